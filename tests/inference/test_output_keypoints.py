"""``eval.output_keypoint_indices`` (MMPose's test_cfg) on the predict path: a model with more
heatmaps than the data has keypoints (``model.metainfo``, coco_aic's 19 for COCO's 17) is
flip-tested with its own flip indices, and predictions, ``PoseEstimator`` and the serving
function keep the listed channels, in their order."""

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
from kpose.inference.predict import heatmaps_with_flip, to_image_coords
from kpose.inference.serving import serving_function
from kpose.recipe import replace

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
KEEP = [18, 17, *range(15)]  # 17 of coco_aic's 19 channels, reordered


@pytest.fixture(scope="module")
def estimator():
    keras.utils.set_random_seed(0)
    recipe = replace(
        kpose.load_recipe_for(str(QUICKSTART)),
        ["codec.unbiased=false", "model.metainfo=coco_aic", f"eval.output_keypoint_indices={KEEP}"],
    )
    # A one-conv heatmap model (19 channels at 1/4): the path around the model is under test.
    crops = keras.Input((128, 96, 3))
    pooled = keras.layers.AveragePooling2D(4)(crops)
    heatmaps = keras.layers.Conv2D(19, 3, padding="same", kernel_initializer="random_normal")(
        pooled
    )
    return PoseEstimator(recipe, keras.Model(crops, heatmaps))


def test_the_recipe_model_has_the_model_keypoints_and_predicts_the_data_keypoints(estimator):
    assert kpose.build_model(estimator.recipe).output_shape[-1] == 19
    assert estimator.dataset_info.num_keypoints == 17


def test_kept_channels_are_the_flip_tested_heatmaps_gathered(estimator):
    model, info = estimator.heatmap_model, estimator.recipe.model_info
    crops = np.random.default_rng(0).uniform(0, 255, (2, 128, 96, 3)).astype(np.float32)
    full = heatmaps_with_flip(model, crops, info.flip_indices, True, True)  # (2, 32, 24, 19)
    kept = heatmaps_with_flip(model, crops, info.flip_indices, True, True, KEEP)
    np.testing.assert_array_equal(kept, tf.gather(full, KEEP, axis=-1))
    # the flip test used coco_aic's flip indices (19, head_top and neck their own mirrors)
    flipped = flip_heatmaps(model(crops[:, :, ::-1]), info.flip_indices, True)
    np.testing.assert_allclose(full, 0.5 * (model(crops) + flipped), atol=1e-6)


BOXES = np.array([[120, 40, 420, 420], [10, 20, 200, 300]], np.float32)


def test_estimator_keeps_the_listed_keypoints(estimator, samples):
    path = samples / "coco" / "000000000785.jpg"
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    people = estimator.predict(image, BOXES)
    assert people["keypoints"].shape == (2, 17, 2) and people["scores"].shape == (2, 17)

    crops, centers, scales = estimator.crop(image[None], np.zeros(2, np.int32), BOXES)
    flip_indices = estimator.recipe.model_info.flip_indices
    full = heatmaps_with_flip(estimator.heatmap_model, crops, flip_indices, True, True)
    keypoints, scores = estimator.codec.decode(tf.gather(full, KEEP, axis=-1))
    expected = to_image_coords(
        np.asarray(keypoints, np.float64), np.asarray(centers), np.asarray(scales), (96, 128)
    )
    np.testing.assert_allclose(people["keypoints"], expected, atol=1e-3)
    np.testing.assert_allclose(people["scores"], scores, atol=1e-5)


@pytest.mark.slow
def test_serving_keeps_the_listed_keypoints(estimator, samples):
    path = samples / "coco" / "000000000785.jpg"
    served = serving_function(estimator)(tf.constant([path.read_bytes()]), tf.constant(BOXES[None]))
    assert served["keypoints"].shape == (1, 2, 17, 2) and served["scores"].shape == (1, 2, 17)
    people = estimator.predict(str(path), BOXES)
    np.testing.assert_allclose(served["keypoints"][0], people["keypoints"], atol=1e-3)
