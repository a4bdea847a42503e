"""Fine-tuning: ``train.load_strict: false`` loads what fits from a model with another keypoint
count (``.pth``, ``.weights.h5``, ``.keras``) and lists the rest; ``train.frozen_stages`` and
``train.norm_eval`` leave what they freeze untouched by real training steps."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import make_training_codecs
from kpose.data.synthetic import convert_synthetic
from kpose.errors import ModelError
from kpose.models.build import build_heatmap_model
from kpose.models.freeze import all_layers
from kpose.recipe import load_recipe
from kpose.training.trainer import build_run, make_train_step, restore_or_initialise, train_epoch
from kpose.weights.load import load_weights
from kpose.weights.state_dict import model_state_dict
from tests.weights.torch_files import write_torch_state_dict

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"


def _model(num_keypoints: int, seed: int) -> keras.Model:
    recipe = load_recipe(QUICKSTART)
    keras.utils.set_random_seed(seed)
    return build_heatmap_model(recipe.model, recipe.codec.input_size, num_keypoints)


@pytest.mark.parametrize("kind", [".pth", ".weights.h5", ".keras"])
def test_non_strict_load_keeps_the_new_head_and_lists_it(kind, tmp_path, caplog):
    coco = _model(17, seed=1)
    path = tmp_path / f"coco17{kind}"
    if kind == ".pth":
        write_torch_state_dict(path, model_state_dict(coco))
    elif kind == ".keras":
        coco.save(path)
    else:
        coco.save_weights(str(path))
    mine = _model(5, seed=2)
    fresh = model_state_dict(mine)
    with pytest.raises(ModelError):
        load_weights(mine, path)  # strict: the head does not fit
    caplog.set_level(logging.WARNING, logger="kpose")
    result = load_weights(mine, path, strict=False)
    after, source = model_state_dict(mine), model_state_dict(coco)
    head = {"head.final_layer.weight", "head.final_layer.bias"}
    for key, value in after.items():
        expected = fresh[key] if key in head else source[key]
        np.testing.assert_array_equal(value, expected, err_msg=key)
    assert result.loaded == len(after) - 2 if kind != ".weights.h5" else result.loaded > 0
    listed = " ".join(result.mismatched_keys)
    assert len(result.mismatched_keys) == 2 and "head.final_layer" in listed
    assert "17" in listed and "5" in listed
    assert not result.missing_keys and not result.unexpected_keys
    assert "mis-shaped (kept fresh)" in caplog.text and "head.final_layer" in caplog.text


def test_non_strict_load_of_an_unrelated_file_is_refused(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="x")])
    other.save_weights(str(tmp_path / "other.weights.h5"))
    with pytest.raises(ModelError, match="no tensor fits"):
        load_weights(_model(5, seed=0), tmp_path / "other.weights.h5", strict=False)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    convert_synthetic(out=root, images=8, seed=0, split="train", shards=1, progress=False)
    return root


def _train(recipe, tmp_path, steps: int = 2) -> tuple[dict, dict]:
    """Variables (by path) before and after ``steps`` real training steps of ``recipe``."""
    strategy = tf.distribute.get_strategy()
    run = build_run(recipe, recipe.dataset_info, strategy, tmp_path)
    restore_or_initialise(run)
    before = {v.path: np.array(v.numpy()) for v in run.model.weights}
    step = make_train_step(
        strategy,
        run.stages_model,
        run.optimizer,
        make_training_codecs(recipe),
        tuple(recipe.codec.input_size),
        recipe.train.batch_size,
    )
    train_epoch(run, strategy, step, tf.summary.create_noop_writer(), 0, 0, progress=False)
    assert int(run.optimizer.iterations.numpy()) == steps
    after = {v.path: np.array(v.numpy()) for v in run.model.weights}
    return before, after, run.model


def _recipe(records, *overrides):
    return load_recipe(
        QUICKSTART,
        [
            f"data.root={records}",
            "train.batch_size=4",
            "train.steps_per_epoch=2",
            "train.warmup_iters=0",
            "train.lr=0.01",
            "data.synthetic=null",
            *overrides,
        ],
    )


def test_frozen_stages_are_untouched_by_training(records, tmp_path):
    """HRNet's frozen_stages=2: stem, layer1, transition1, stage2, transition2 (as MMPose's
    HRNet._freeze_stages) keep every weight and BN statistic; the rest trains."""
    before, after, model = _train(_recipe(records, "train.frozen_stages=2"), tmp_path)
    frozen = ("conv1", "bn1", "conv2", "bn2", "layer1", "transition1", "stage2", "transition2")
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    checked = 0
    for layer in all_layers(model):
        path = layer.name.removeprefix("backbone.")
        if not layer.weights or not layer.name.startswith("backbone."):
            continue
        is_frozen = any(path == f or path.startswith(f"{f}.") for f in frozen)
        for variable in layer.weights:
            if is_frozen:
                assert variable.path not in changed, variable.path
                checked += 1
    assert checked > 20
    assert any("stage3" in p for p in changed) and any("final_layer" in p for p in changed)
    assert any("stage3" in p and "moving_mean" in p for p in changed)  # BN still learns there


def test_norm_eval_keeps_backbone_bn_statistics_but_trains_their_scale(records, tmp_path):
    before, after, model = _train(_recipe(records, "train.norm_eval=true"), tmp_path)
    stats = [p for p in before if p.startswith("backbone.") and "moving_" in p]
    scales = [p for p in before if p.startswith("backbone.") and p.endswith("gamma")]
    assert stats and scales
    for p in stats:
        np.testing.assert_array_equal(before[p], after[p], err_msg=p)
    assert sum(not np.array_equal(before[p], after[p]) for p in scales) > len(scales) // 2
