"""The preset table: every preset's recipe loads, names itself and the MMPose config it mirrors,
names a checkpoint URL it can verify, and builds a model whose heatmaps have the codec's size
(building every preset: ``slow``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import kpose
from kpose import presets
from kpose.models.build import build_heatmap_model

# mmpose_config: relative to MMPose's configs/, one table for every tree
CONFIG = re.compile(
    r"^(body_2d_keypoint/topdown_heatmap/(coco|mpii|crowdpose|aic|jhmdb|posetrack18|humanart|exlpose)"
    r"|animal_2d_keypoint/topdown_heatmap/(ap10k|animalpose|ak|locust|zebra)"
    r"|wholebody_2d_keypoint/topdown_heatmap/(coco-wholebody|ubody2d)"
    r"|face_2d_keypoint/topdown_heatmap/(300w|300wlp|aflw|cofw|wflw|coco_wholebody_face)"
    r"|hand_2d_keypoint/topdown_heatmap/(onehand10k|freihand2d|rhd2d|coco_wholebody_hand)"
    r")/[\w.-]+\.py$"
)


@pytest.mark.parametrize("name", kpose.list_presets())
def test_recipe_of_every_preset(name):
    preset = presets.get(name)
    recipe = preset.load_recipe()
    assert recipe.name == name
    if name != "quickstart":
        assert CONFIG.match(preset.mmpose_config), preset.mmpose_config
        folder = preset.mmpose_config.split("/")[2].replace("-", "_")  # coco-wholebody
        assert recipe.data.dataset in folder, (recipe.data.dataset, folder)
        assert preset.published


@pytest.mark.slow
@pytest.mark.parametrize("name", kpose.list_presets())
def test_every_preset_builds(name):
    recipe = presets.get(name).load_recipe()
    k = recipe.model_info.num_keypoints  # the data's, or model.metainfo's (coco_aic: 19)
    width, height = recipe.codec.input_size
    model = build_heatmap_model(recipe.model, (width, height), k)
    out = model(np.zeros((1, height, width, 3), np.float32))
    assert tuple(out.shape) == (1, recipe.codec.heatmap_size[1], recipe.codec.heatmap_size[0], k)


UNHASHED_CHECKPOINTS = ("hrnet-w32-exlpose",)


def test_every_pretrained_preset_has_a_verifiable_checkpoint_url():
    """Every preset but quickstart names MMPose's checkpoint of its config, an https URL whose
    file name carries the sha256 prefix the download is checked against; no two share one."""
    from kpose.weights.download import expected_sha256_prefix, url_file_name

    urls = {}
    for name in kpose.list_presets():
        preset = presets.get(name)
        if name == "quickstart" or preset.published == presets.NO_CHECKPOINT:
            assert preset.weights == ""
            continue
        assert preset.weights.startswith("https://download.openmmlab.com/mmpose/"), name
        file_name = url_file_name(preset.weights)
        assert file_name.endswith(".pth"), preset.weights
        # MMPose's ExLPose checkpoint name carries no sha256 prefix (downloads warn, unverified)
        assert expected_sha256_prefix(file_name) or name in UNHASHED_CHECKPOINTS, preset.weights
        assert preset.weights not in urls, (name, urls.get(preset.weights))
        urls[preset.weights] = name


@pytest.mark.parametrize("path", sorted(presets.RECIPES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_recipe_start_weights_are_urls(path):
    """``train.backbone_weights`` / ``load_from`` of a shipped recipe: empty or an https URL
    of a .pth file (so training needs no manual step; the tests themselves stay offline)."""
    from kpose.recipe import load_recipe
    from kpose.weights.download import url_file_name

    train = load_recipe(path).train
    for value in (train.backbone_weights, train.load_from):
        if value:
            assert value.startswith("https://") and url_file_name(value).endswith(".pth"), value
    if train.backbone_weights_prefix:
        assert train.backbone_weights


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(kpose.errors.ModelError, match="hrnet-w32"):
        presets.get("hrnet-w33")


TRANSFORMERS = ("vit", "swin", "pvt", "hrformer")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        n
        for n in kpose.list_presets()
        if presets.get(n).load_recipe().model.backbone.startswith(TRANSFORMERS)
    ],
)
def test_transformer_presets_compile_with_xla(name):
    """XLA-compiled inference of every transformer preset gives the eager heatmaps."""
    import tensorflow as tf

    recipe = presets.get(name).load_recipe()
    width, height = recipe.codec.input_size
    model = kpose.build_model(recipe)
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    eager = np.asarray(model(images, training=False))
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(
        np.asarray(compiled(images)),
        eager,
        rtol=0,
        atol=1e-4 * max(1.0, float(np.abs(eager).max())),
    )
