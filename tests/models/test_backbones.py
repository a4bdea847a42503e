"""Every backbone family through the shared harness (``tests/models/harness.py``): build and call
shape, config round trip, ``.keras`` and MMPose state-dict round trips, XLA, mixed float16."""

from __future__ import annotations

import keras
import pytest

from kpose.errors import RecipeError
from kpose.models.backbones import BACKBONES, accepted_arguments, get_backbone
from kpose.models.build import build_backbone
from kpose.recipe import ModelConfig
from tests.models.harness import (
    FAMILIES,
    build,
    randomize,
    run_backbone_test,
    run_mixed_precision_test,
)


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    """``(name, case, randomised model)``, one model per family for all checks."""
    case = FAMILIES[request.param]
    keras.utils.set_random_seed(0)
    model = build(case)
    randomize(model)
    return request.param, case, model


def test_every_backbone_module_has_a_case():
    modules = {target.split(":")[0] for target in BACKBONES.values()}
    covered = {BACKBONES[case.model.backbone].split(":")[0] for case in FAMILIES.values()}
    assert modules == covered


def test_backbone(family, tmp_path):
    _, case, model = family
    run_backbone_test(model, case, tmp_path)


def test_mixed_float16(family):
    _, case, model = family
    run_mixed_precision_test(model, case)


def test_wrong_backbone_argument_names_the_recipe_key_and_accepted_arguments():
    with pytest.raises(RecipeError, match=r"model\.backbone_args\.dept.*resnet.*'depth'"):
        build_backbone(ModelConfig("resnet", {"dept": 50}))
    # a variant fixes its own depth
    with pytest.raises(RecipeError, match=r"model\.backbone_args\.depth.*'resnet50'"):
        build_backbone(ModelConfig("resnet50", {"depth": 101}))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_accepted_arguments_follow_variants_to_their_family(name):
    accepted = accepted_arguments(get_backbone(name))
    assert "name" in accepted and len(accepted) >= 3
