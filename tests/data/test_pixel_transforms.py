"""Pixel transforms of the warped crop: OpenCV's 8-bit arithmetic redone exactly (HSV, box and
median filters), draws reproducible per seed, recipe entries checked by name and argument, and
the recipes' training pipeline delivering crops with the dropout in them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap
from kpose.data import augment, pipeline
from kpose.data import pixel_transforms as px
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.errors import RecipeError
from kpose.geometry import affine
from kpose.recipe import load_recipe, recipe_from_dict

INPUT = (192, 256)
RECIPES = "recipes/"


@pytest.fixture(scope="module")
def photo(samples):
    """A real photo, 256 x 192 RGB uint8 (the size of a crop)."""
    image = cv2.cvtColor(cv2.imread(str(samples / "coco/000000196141.jpg")), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image[60:316, 250:442])


def test_hsv_conversions_are_opencvs():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    np.testing.assert_array_equal(px.rgb_to_hsv_u8(tf.constant(rgb)).numpy(), hsv)
    # every hue MMPose's hue shift can write (0..255: below 0 and above 179 wrap in uint8)
    hsv = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    expected = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)  # 512 wide: OpenCV's vectorised loop only
    np.testing.assert_array_equal(px.hsv_to_rgb_u8(tf.constant(hsv)).numpy(), expected)


@pytest.mark.parametrize("ksize", [3, 5, 7])
def test_box_and_median_filters_are_opencvs(photo, ksize):
    image = tf.constant(photo, tf.float32)
    np.testing.assert_array_equal(px.box_blur(image, ksize).numpy(), cv2.blur(photo, (ksize,) * 2))
    np.testing.assert_array_equal(
        px.median_blur(image, ksize).numpy(), cv2.medianBlur(photo, ksize)
    )


def _transforms(*entries):
    return recipe_from_dict({"data": {"pixel_transforms": list(entries)}}).data.pixel_transforms


def test_draws_are_reproducible_per_seed_and_vary_across_seeds():
    transforms = _transforms(
        {"type": "CoarseDropout", "max_holes": 8, "max_height": 40, "max_width": 40, "p": 1.0},
        {"type": "GridDropout", "unit_size_min": 10, "unit_size_max": 40, "random_offset": True},
        {"type": "PhotometricDistortion"},
    )

    def draw(seed):
        params = px.sample_pixel_params(transforms, tf.constant(seed, tf.int64), INPUT)
        return tf.nest.map_structure(lambda x: x.numpy(), params)

    first, again, other = draw([3, 11]), draw([3, 11]), draw([3, 12])
    tf.nest.map_structure(np.testing.assert_array_equal, first, again)
    assert not np.array_equal(first[0]["holes"], other[0]["holes"])
    holes = first[0]["holes"]
    assert holes.shape == (8, 4) and np.all(holes[:, 2] - holes[:, 0] <= 40)
    assert np.all(holes[:, 2] <= INPUT[0]) and np.all(holes[:, 3] <= INPUT[1])


def test_dropout_fills_exactly_the_drawn_holes():
    images = tf.fill([2, 256, 192, 3], 100.0)
    holes = tf.constant([[[10, 20, 30, 25], [0, 0, 0, 0]], [[0, 0, 0, 0], [0, 0, 0, 0]]])
    out = px.coarse_dropout(images, holes).numpy()
    assert np.all(out[0, 20:25, 10:30] == 0) and (out[0] == 0).sum() == 5 * 20 * 3
    assert np.all(out[1] == 100)
    grid = {
        "apply": tf.constant([True, False]),
        "unit": tf.constant([[16, 16], [16, 16]]),
        "hole": tf.constant([[8, 8], [8, 8]]),
        "shift": tf.constant([[3, 5], [3, 5]]),
    }
    out = px.grid_dropout(images, grid).numpy()
    x, y = np.arange(192), np.arange(256)
    inside = ((y[:, None] >= 5) & ((y[:, None] - 5) % 16 < 8)) & ((x >= 3) & ((x - 3) % 16 < 8))
    np.testing.assert_array_equal(out[0, ..., 0] == 0, inside)
    assert np.all(out[1] == 100)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"type": "Cutout"}, "pixel_transforms[0].type"),
        ({"type": "CoarseDropout", "holes": 3}, "pixel_transforms[0].holes"),
        ({"type": "CoarseDropout", "max_height": 0.4}, "all in pixels"),
        ({"type": "CoarseDropout", "max_height": 300}, "at most the 192x256 crop"),
        ({"type": "CoarseDropout", "min_holes": 9}, "min_holes <= max_holes"),
        ({"type": "GridDropout", "unit_size_min": 10, "unit_size_max": 200}, "shorter side"),
        ({"type": "GridDropout", "unit_size_min": 10}, "both set"),
        ({"type": "MedianBlur", "blur_limit": [3, 6]}, "odd blur limits"),
        ({"type": "PhotometricDistortion", "hue_delta": 0}, "hue_delta"),
        ({"type": "Blur", "p": 1.5}, "pixel_transforms[0].p"),
        ("Blur", "expected a mapping"),
    ],
)
def test_recipe_rejects_unknown_transforms_and_bad_arguments(entry, message):
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _transforms(entry)


@pytest.fixture(scope="module")
def coco_root(samples, tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    convert_coco(
        samples / "coco/test_coco.json", samples / "coco", root, split="train", shards=1,
        progress=False,
    )  # fmt: skip
    return str(root)


def test_recipe_pipeline_delivers_crops_with_dropout(coco_root):
    recipe = load_recipe(
        RECIPES + "hrnet_w32_coarsedropout_coco.yaml",
        [f"data.root={coco_root}", "data.shuffle_buffer=8"],
    )
    info = get_dataset_info("coco")
    ds = pipeline.train_dataset(coco_root, "train", recipe.data, info, INPUT, 8, seed=2, epoch=0)
    batch = next(iter(ds))
    codec = MSRAHeatmap(INPUT, (48, 64), sigma=2.0)
    images, heatmaps, _ = augment.make_training_batch(
        batch, codec, INPUT, recipe.data.pixel_transforms
    )
    images = images.numpy()
    plain = affine.warp_affine(batch["canvas"], batch["matrix"], INPUT).numpy()
    plain = np.clip(np.round(plain), 0, 255)
    mask = np.zeros(images.shape[:3], bool)
    (params,) = batch["pixel"]
    for b, holes in enumerate(params["holes"].numpy()):
        for x1, y1, x2, y2 in holes:
            mask[b, y1:y2, x1:x2] = True
    dropped = mask.any(axis=(1, 2))
    assert 0 < dropped.sum() < 8  # p = 0.5: some crops have holes, some not
    assert np.all(images[mask] == 0)
    np.testing.assert_array_equal(images[~mask], plain[~mask])
    assert heatmaps.shape == (8, 64, 48, 17)
