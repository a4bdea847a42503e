"""The in-graph crop reproduces MMPose's OpenCV crop exactly: ``cv2.getAffineTransform`` and
``cv2.warpAffine`` (uint8, bilinear, zero border) redone in TF ops, on the real sample images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.geometry import cv2_exact, reference
from kpose.geometry.boxes import bbox_xyxy_to_center_scale, fix_aspect_ratio

INPUT = (192, 256)


@pytest.fixture(scope="module")
def images(samples):
    files = sorted(samples.glob("*/**/*.jpg"))[:10]
    imgs = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
    height = max(i.shape[0] for i in imgs)
    width = max(i.shape[1] for i in imgs)
    batch = np.zeros((len(imgs), height, width, 3), np.uint8)
    for k, im in enumerate(imgs):
        batch[k, : im.shape[0], : im.shape[1]] = im
    return imgs, batch


def _boxes(imgs, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.integers(len(imgs)))
        h, w = imgs[k].shape[:2]
        x1, y1 = rng.uniform(-60, w * 0.8), rng.uniform(-60, h * 0.8)
        bw, bh = rng.uniform(3, w * 0.8), rng.uniform(3, h * 0.8)
        box = np.array([x1, y1, x1 + bw, y1 + bh], np.float32)
        center, scale = bbox_xyxy_to_center_scale(box)
        yield k, center, fix_aspect_ratio(scale, INPUT[0] / INPUT[1])


def test_affine_from_points_is_opencvs_bit_for_bit():
    rng = np.random.default_rng(0)
    src = (rng.random((500, 3, 2)) * 2000).astype(np.float32)
    dst = (rng.random((500, 3, 2)) * 300).astype(np.float32)
    ours = cv2_exact.affine_from_points(src, dst).numpy()
    theirs = np.stack([cv2.getAffineTransform(s, d) for s, d in zip(src, dst, strict=True)])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("use_udp", [False, True])
def test_crops_equal_mmposes_opencv_crops(images, use_udp):
    imgs, batch = images
    boxes = list(_boxes(imgs, 40, seed=int(use_udp)))
    centers = np.stack([c for _, c, _ in boxes])
    scales = np.stack([s for _, _, s in boxes])
    index = [k for k, _, _ in boxes]
    make = cv2_exact.get_udp_warp_matrix if use_udp else cv2_exact.get_warp_matrix
    matrices = make(centers, scales, INPUT)
    crops = tf.function(cv2_exact.warp_affine, jit_compile=True)(batch, index, matrices, INPUT)
    for n, (k, center, scale) in enumerate(boxes):
        expected, matrix = reference.topdown_affine(imgs[k], center, scale, 0.0, INPUT, use_udp)
        np.testing.assert_array_equal(matrices[n].numpy(), np.asarray(matrix, np.float64))
        np.testing.assert_array_equal(crops[n].numpy(), expected)
