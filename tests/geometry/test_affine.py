"""The batched TF warp matrices and gather warp against MMPose's one-box functions and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kpose.geometry import affine, reference
from kpose.geometry.boxes import fix_aspect_ratio

INPUT = (48, 64)  # (w, h)


def _boxes(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    center = rng.uniform(20, 200, (n, 2)).astype(np.float32)
    scale = fix_aspect_ratio(rng.uniform(10, 300, (n, 2)).astype(np.float32), INPUT[0] / INPUT[1])
    rotation = rng.uniform(-90, 90, n).astype(np.float32)
    return center, scale.astype(np.float32), rotation


def test_tf_warp_matrix_matches_cv2_three_point_construction():
    center, scale, rotation = _boxes(32)
    tf_m = affine.get_warp_matrix(center, scale, rotation, INPUT).numpy()
    for i in range(32):
        ref = reference.get_warp_matrix(center[i], scale[i], float(rotation[i]), INPUT)
        np.testing.assert_allclose(tf_m[i], ref, atol=2e-4 * max(1.0, np.abs(ref).max()))


def test_warp_matrix_maps_centre_to_crop_centre_and_inverse_round_trips():
    center, scale, rotation = _boxes(8, seed=1)
    m = affine.get_warp_matrix(center, scale, rotation, INPUT)
    mapped = affine.transform_points(center[:, None], m).numpy()[:, 0]
    np.testing.assert_allclose(mapped, np.tile([[24.0, 32.0]], (8, 1)), atol=1e-3)
    back = affine.transform_points(
        affine.transform_points(center[:, None] + 5.0, m), affine.invert_affine(m)
    ).numpy()[:, 0]
    np.testing.assert_allclose(back, center + 5.0, atol=1e-3)
    for i in range(8):
        inv = reference.get_warp_matrix(
            center[i], scale[i], float(rotation[i]), INPUT, inverse=True
        )
        full = np.vstack(
            [reference.get_warp_matrix(center[i], scale[i], float(rotation[i]), INPUT), [0, 0, 1]]
        )
        np.testing.assert_allclose(inv @ full, [[1, 0, 0], [0, 1, 0]], atol=1e-6)


def test_udp_matrix_maps_centre_to_pixel_centre():
    center, scale, rotation = _boxes(8, seed=2)
    m = affine.get_udp_warp_matrix(center, scale, rotation, INPUT)
    mapped = affine.transform_points(center[:, None], m).numpy()[:, 0]
    np.testing.assert_allclose(mapped, np.tile([[23.5, 31.5]], (8, 1)), atol=1e-3)
    for i in range(8):
        np.testing.assert_allclose(
            m.numpy()[i],
            reference.get_udp_warp_matrix(center[i], scale[i], float(rotation[i]), INPUT),
            rtol=1e-5,
            atol=1e-3,
        )


@pytest.mark.parametrize("seed", [0, 1])
def test_float_warp_matches_cv2_bilinear(seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (4, 90, 70, 3)).astype(np.float32)
    center = rng.uniform(20, 60, (4, 2)).astype(np.float32)
    scale = fix_aspect_ratio(rng.uniform(30, 120, (4, 2)).astype(np.float32), 0.75)
    rotation = rng.uniform(-60, 60, 4).astype(np.float32)
    m = affine.get_warp_matrix(center, scale, rotation, INPUT).numpy()
    got = affine.warp_affine(images, m, INPUT).numpy()
    for i in range(4):
        ref = cv2.warpAffine(images[i], m[i].astype(np.float64), INPUT, flags=cv2.INTER_LINEAR)
        # cv2 quantises sample positions to 1/32 px; the TF warp is exact.
        assert np.abs(got[i] - ref).mean() < 1.0
        assert np.percentile(np.abs(got[i] - ref), 99) < 8.0
        assert got.shape[1:] == (64, 48, 3)


def test_float_warp_identity_and_zero_border():
    images = np.arange(2 * 6 * 5 * 1, dtype=np.float32).reshape(2, 6, 5, 1)
    eye = np.tile(np.array([[[1, 0, 0], [0, 1, 0]]], np.float32), (2, 1, 1))
    np.testing.assert_allclose(affine.warp_affine(images, eye, (5, 6)), images)
    shifted = np.tile(np.array([[[1, 0, 2], [0, 1, 0]]], np.float32), (2, 1, 1))
    out = affine.warp_affine(images, shifted, (5, 6)).numpy()
    np.testing.assert_allclose(out[:, :, :2], 0)
    np.testing.assert_allclose(out[:, :, 2:], images[:, :, :3])
