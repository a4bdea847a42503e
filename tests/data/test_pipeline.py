"""Training pipeline invariants on real sample images: targets land where keypoints land,
flips swap left and right, an epoch's augmentation is reproducible, and the val crop is the
exact TopdownAffine crop."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap
from kpose.data import augment, pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.geometry import affine, reference
from kpose.recipe import BBoxTransformConfig, DataConfig

INPUT = (192, 256)
HEATMAP = (48, 64)


@pytest.fixture(scope="module")
def coco_root(samples, tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    convert_coco(
        samples / "coco/test_coco.json",
        samples / "coco",
        root,
        split="train",
        shards=2,
        progress=False,
    )
    convert_coco(
        samples / "coco/test_coco.json",
        samples / "coco",
        root,
        split="val",
        detections=samples / "coco/test_coco_det_AP_H_56.json",
        shards=1,
        progress=False,
    )
    return str(root)


def _batch(root, cfg, batch=8, epoch=0, seed=0):
    info = get_dataset_info("coco")
    ds = pipeline.train_dataset(root, "train", cfg, info, INPUT, batch, seed=seed, epoch=epoch)
    raw = next(iter(ds))
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0)
    images, heatmaps, weights = augment.make_training_batch(raw, codec, INPUT)
    keypoints = affine.transform_points(raw["keypoints"], raw["matrix"])
    return raw, images.numpy(), heatmaps.numpy(), weights.numpy(), keypoints.numpy()


def test_heatmap_peaks_follow_warped_keypoints(coco_root):
    raw, images, heatmaps, weights, kpts = _batch(coco_root, DataConfig(shuffle_buffer=64))
    assert images.shape == (8, 256, 192, 3) and heatmaps.shape == (8, 64, 48, 17)
    assert images.max() > 50  # real pixels, not an empty warp
    checked = 0
    for b in range(8):
        for k in range(17):
            if weights[b, k] <= 0:
                continue
            peak = np.unravel_index(np.argmax(heatmaps[b, :, :, k]), HEATMAP[::-1])
            # a keypoint just outside keeps its weight (part of its window is inside)
            # and peaks on the nearest border cell
            target = np.clip(kpts[b, k] / 4.0, 0, np.array(HEATMAP) - 1)
            # the window may be clipped at the border; the peak is still the nearest cell
            assert abs(peak[1] - target[0]) <= 1.0 and abs(peak[0] - target[1]) <= 1.0
            checked += 1
    assert checked > 20
    # keypoints outside the heatmap (beyond 3 sigma) get weight 0, as MMPose's encoder does
    out = (kpts[..., 0] / 4 + 6.5 < 0) | (kpts[..., 0] / 4 - 6.5 >= 48)
    assert np.all(weights[out] == 0)


def test_flip_swaps_left_and_right(coco_root):
    still = DataConfig(
        half_body=None,
        shuffle_buffer=1,
        bbox_transform=BBoxTransformConfig(shift_prob=0, scale_prob=0, rotate_prob=0),
    )
    plain = _batch(coco_root, dataclasses.replace(still, flip_prob=0.0))
    flipped = _batch(coco_root, dataclasses.replace(still, flip_prob=1.0))
    flip_indices = list(get_dataset_info("coco").flip_indices)
    vis_plain = plain[0]["keypoints_visible"].numpy()
    vis_flip = flipped[0]["keypoints_visible"].numpy()
    np.testing.assert_array_equal(vis_flip, vis_plain[:, flip_indices])
    kp, kf = plain[4], flipped[4]
    mask = vis_plain[:, flip_indices] > 0
    # MMPose flips the image (x -> W - 1 - x) and the box centre the same way, so in the crop
    # a keypoint at u lands at input_w - u, with its left/right partner's index.
    np.testing.assert_allclose(
        kf[..., 0][mask], (INPUT[0] - kp[:, flip_indices, 0])[mask], atol=1e-3
    )
    np.testing.assert_allclose(kf[..., 1][mask], kp[:, flip_indices, 1][mask], atol=1e-3)
    # and the pixels are mirrored (up to the one-pixel shift of the non-UDP convention)
    diff = np.abs(flipped[1][:, :, 1:] - plain[1][:, :, :0:-1]).mean()
    assert diff < 8.0


def test_augmentation_is_reproducible_per_epoch(coco_root):
    cfg = DataConfig(shuffle_buffer=64)
    a = _batch(coco_root, cfg, epoch=3)[0]
    b = _batch(coco_root, cfg, epoch=3)[0]
    c = _batch(coco_root, cfg, epoch=4)[0]
    np.testing.assert_array_equal(a["matrix"].numpy(), b["matrix"].numpy())
    assert not np.allclose(a["matrix"].numpy(), c["matrix"].numpy())


def test_val_crop_is_topdown_affine(coco_root, samples):
    info = get_dataset_info("coco")
    cfg = DataConfig()
    ds = pipeline.val_dataset(coco_root, "val", cfg, info, INPUT, 4)
    batch = next(iter(ds))
    image_id = int(batch["image_id"][0])
    img = cv2.imread(str(samples / f"coco/{image_id:012d}.jpg"))[..., ::-1]
    center, scale = batch["center"][0].numpy(), batch["scale"][0].numpy()
    m = reference.get_warp_matrix(center, scale, 0.0, INPUT)
    expected = cv2.warpAffine(np.ascontiguousarray(img), m, INPUT, flags=cv2.INTER_LINEAR)
    got = batch["image"][0].numpy()
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("use_udp", [False, True])
def test_exact_crop_op_is_the_numpy_reference(samples, use_udp):
    img = cv2.imread(str(samples / "coco" / "000000000785.jpg"))
    center = np.array([300.0, 250.0], np.float32)
    scale = np.array([150.0, 200.0], np.float32)
    crop = pipeline._exact_crop(tf.constant(img), center, scale, INPUT, use_udp)
    ref, _ = reference.topdown_affine(img, center, scale, 0.0, INPUT, use_udp)
    assert crop.shape == (INPUT[1], INPUT[0], 3)
    np.testing.assert_array_equal(crop.numpy(), ref)
