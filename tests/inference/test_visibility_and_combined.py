"""The predict path of the two heads that are more than heatmaps: a vis head (MMPose's
VisPredictHead) adds ``keypoints_visible`` to ``PoseEstimator.predict`` and to the serving
signature (only then); UDP's combined maps are flip-tested with ``udp_combined`` and decoded
by the codec. Both on the quickstart's small network."""

from __future__ import annotations

from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import kpose
from kpose.codecs import flip_heatmaps
from kpose.inference.estimator import PoseEstimator
from kpose.inference.predict import outputs_with_flip
from kpose.inference.serving import serving_function
from kpose.recipe import replace

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
BOXES = np.array([[120, 40, 420, 420], [10, 20, 200, 300]], np.float32)


def _estimator(overrides: list[str]) -> PoseEstimator:
    keras.utils.set_random_seed(0)
    recipe = replace(kpose.load_recipe_for(str(QUICKSTART)), overrides)
    return PoseEstimator.from_recipe(recipe)


@pytest.fixture(scope="module")
def vis():
    return _estimator(["model.head.type=vis"])


@pytest.fixture(scope="module")
def image(samples):
    path = samples / "coco" / "000000000785.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_vis_model_outputs_heatmaps_and_visibility(vis):
    assert vis.heatmap_model.output_names == ["heatmaps", "visibility"]
    heatmaps, visibility = vis.heatmap_model(np.zeros((2, 128, 96, 3), np.float32))
    assert heatmaps.shape == (2, 32, 24, 17) and visibility.shape == (2, 17)
    assert 0 < float(tf.reduce_min(visibility)) and float(tf.reduce_max(visibility)) < 1


def test_flip_test_averages_the_visibility_of_the_mirrored_crop(vis):
    model, flip = vis.heatmap_model, vis.dataset_info.flip_indices
    crops = np.random.default_rng(0).uniform(0, 255, (2, 128, 96, 3)).astype(np.float32)
    _, fused = outputs_with_flip(model, crops, flip, True, True)
    _, plain = model(crops)
    _, mirrored = model(crops[:, :, ::-1])
    expected = 0.5 * (plain + tf.gather(mirrored, flip, axis=-1))
    np.testing.assert_allclose(fused, expected, atol=1e-6)


def test_predict_gives_keypoints_visible(vis, image):
    people = vis.predict(image, BOXES)
    assert people["keypoints_visible"].shape == (2, 17)
    assert people["keypoints_visible"].dtype == np.float32
    assert vis.predict(image, np.zeros((0, 4)))["keypoints_visible"].shape == (0, 17)


@pytest.mark.slow  # tracing the serving graph (decode, crop, model, flip, decode)
def test_serving_gives_keypoints_visible(vis, image):
    people = vis.predict(image, BOXES)
    serve = serving_function(vis)
    boxes = np.zeros((1, 3, 4), np.float32)
    boxes[0, :2] = BOXES
    out = serve(tf.constant([cv2.imencode(".png", image[..., ::-1])[1].tobytes()]), boxes)
    assert sorted(out) == ["keypoints", "keypoints_visible", "scores"]
    assert out["keypoints_visible"].shape == (1, 3, 17)
    np.testing.assert_allclose(out["keypoints_visible"][0, :2], people["keypoints_visible"], 1e-5)
    assert not np.any(out["keypoints_visible"][0, 2])  # a padding row


COMBINED = [
    "codec.type=udp",
    "codec.unbiased=false",
    "codec.heatmap_type=combined",
    "model.head.channels_per_keypoint=3",
    "model.head.loss=combined_mse",
    "eval.shift_heatmap=false",
]


@pytest.fixture(scope="module")
def combined():
    return _estimator(COMBINED)


def test_combined_model_is_flip_tested_udp_combined(combined):
    estimator = combined
    assert estimator.recipe.flip_mode == "udp_combined"
    model, flip = estimator.heatmap_model, estimator.dataset_info.flip_indices
    assert model.output_shape == (None, 32, 24, 51)
    crops = np.random.default_rng(1).uniform(0, 255, (2, 128, 96, 3)).astype(np.float32)
    fused, visibility = outputs_with_flip(model, crops, flip, True, False, None, "udp_combined")
    back = flip_heatmaps(model(crops[:, :, ::-1]), flip, False, "udp_combined")
    np.testing.assert_allclose(fused, 0.5 * (model(crops) + back), atol=1e-6)
    assert visibility is None


@pytest.mark.slow  # compiling the combined decoding (XLA)
def test_combined_model_predicts_keypoints(combined, image):
    people = combined.predict(image, BOXES)
    assert people["keypoints"].shape == (2, 17, 2) and "keypoints_visible" not in people
    assert np.all(np.isfinite(people["keypoints"]))


@pytest.mark.slow  # tracing the serving graph
def test_models_without_visibility_serve_keypoints_and_scores_only():
    estimator = _estimator([])
    outputs = serving_function(estimator).get_concrete_function().structured_outputs
    assert sorted(outputs) == ["keypoints", "scores"]
