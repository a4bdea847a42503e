"""UDPHeatmap and MegviiHeatmap: round trips, weights, border rules and the OpenCV blur.

MMPose parity is checked in tests/parity/test_udp_megvii_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MegviiHeatmap, UDPHeatmap
from kpose.codecs.megvii import cv2_gaussian_blur, gaussian_blur_exact
from kpose.errors import ModelError

INPUT, HEATMAP = (192, 256), (48, 64)  # (w, h)
UDP_SCALE = np.array([191 / 47, 255 / 63])  # input pixels per heatmap pixel, (x, y)


def interior_keypoints(seed: int, n: int = 4, k: int = 17) -> np.ndarray:
    """(n, k, 2) input-pixel keypoints at least 10 heatmap pixels from every border."""
    rng = np.random.default_rng(seed)
    return rng.uniform([40, 40], [INPUT[0] - 40, INPUT[1] - 40], (n, k, 2)).astype(np.float32)


def peak_xy(heatmap: np.ndarray) -> tuple[int, int]:
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return int(x), int(y)


# --- UDP -----------------------------------------------------------------------------------


@pytest.fixture
def udp() -> UDPHeatmap:
    return UDPHeatmap(INPUT, HEATMAP, sigma=2.0)


def test_udp_shapes_and_scale(udp):
    heatmaps, weights = udp.encode(interior_keypoints(0))
    assert heatmaps.shape == (4, 64, 48, 17) and heatmaps.dtype == tf.float32
    assert weights.shape == (4, 17)
    keypoints, scores = udp.decode(heatmaps)
    assert keypoints.shape == (4, 17, 2) and scores.shape == (4, 17)
    np.testing.assert_allclose(udp.scale_factor, UDP_SCALE, rtol=1e-7)


def test_udp_gaussian_is_centred_on_the_sub_pixel_position(udp):
    keypoints = interior_keypoints(1, n=1, k=3)
    heatmaps, _ = udp.encode(keypoints)
    heatmaps = heatmaps.numpy()[0]
    points = keypoints[0] / UDP_SCALE  # heatmap pixels
    for k, (px, py) in enumerate(points):
        mu = np.trunc(np.array([px, py]) + 0.5).astype(int)
        assert peak_xy(heatmaps[:, :, k]) == tuple(mu)
        window = heatmaps[mu[1] - 6 : mu[1] + 7, mu[0] - 6 : mu[0] + 7, k]
        xs, ys = np.meshgrid(np.arange(-6, 7) + mu[0], np.arange(-6, 7) + mu[1])
        expected = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / 8)
        np.testing.assert_allclose(window, expected, atol=2e-6)
        assert (heatmaps[:, :, k] > 0).sum() == 13 * 13  # radius 3 sigma


def test_udp_corner_pixels_map_onto_each_other(udp):
    # UDP aligns the first and last pixel centres: input (191, 255) is heatmap (47, 63).
    heatmaps, _ = udp.encode(np.array([[[0.0, 0.0], [191.0, 255.0]]], np.float32))
    heatmaps = heatmaps.numpy()[0]
    assert peak_xy(heatmaps[:, :, 0]) == (0, 0) and heatmaps[0, 0, 0] == 1.0
    assert peak_xy(heatmaps[:, :, 1]) == (47, 63) and heatmaps[63, 47, 1] == 1.0


@pytest.mark.parametrize("sigma, blur", [(2.0, 11), (3.0, 17)])
def test_udp_round_trip_recovers_sub_pixel_keypoints(sigma, blur):
    codec = UDPHeatmap(INPUT, HEATMAP, sigma=sigma, blur_kernel_size=blur)
    keypoints = interior_keypoints(2)
    decoded, scores = codec.decode(codec.encode(keypoints)[0])
    # MMPose decodes with x / (w - 1) * input_w, so the round trip scales by input / (input -
    # 1); its image back-projection (kp / input * scale + ...) expects exactly that.
    expected = keypoints * np.array([192 / 191, 256 / 255], np.float32)
    assert np.abs(decoded.numpy() - expected).max() < 0.02
    assert scores.numpy().min() > 0.88  # the Gaussian's value at the nearest pixel


def test_udp_invisible_keypoints_keep_their_visibility_as_weight(udp):
    visible = np.array([[0.0, 0.3, 0.5, 2.0]], np.float32)
    heatmaps, weights = udp.encode(interior_keypoints(3, n=1, k=4), visible)
    peaks = heatmaps.numpy().max(axis=(1, 2))[0]
    np.testing.assert_array_equal(peaks > 0, [False, False, True, True])
    np.testing.assert_allclose(weights.numpy(), visible)


def test_udp_window_rules_at_the_borders(udp):
    w = HEATMAP[0]
    xs = np.array([-8.6, -7.6, -7.4, -1.0, w + 4.6, w + 5.4, w + 5.6])  # heatmap pixels
    keypoints = np.stack([xs * UDP_SCALE[0], np.full_like(xs, 100.0)], -1)[None]
    heatmaps, weights = udp.encode(keypoints.astype(np.float32))
    filled_columns = (heatmaps.numpy()[0] > 0).any(axis=0).sum(axis=0)
    # mu = int(x + 0.5) = -8: the window [-14, -1) is off the map, weight 0. mu = -7: the
    # window ends at column 0 exclusive, yet MMPose keeps weight 1 (with an empty map).
    # mu = -6: column 0 only; mu = 0 (int(-0.5) truncates): columns 0..6. mu = w + 5: the
    # window starts at the last column. mu = w + 6: off the map.
    np.testing.assert_array_equal(weights.numpy(), [[0, 1, 1, 1, 1, 1, 0]])
    np.testing.assert_array_equal(filled_columns, [0, 0, 1, 7, 1, 1, 0])


def test_udp_ties_and_dead_channels(udp):
    maps = np.zeros((1, 64, 48, 3), np.float32)
    maps[0, 10, 30, 0] = maps[0, 20, 5, 0] = 1.0  # a tie: row-major first maximum wins
    maps[0, :, :, 2] = -1.0  # negative: MMPose's (-1, -1), no step on a flat log-map
    keypoints, scores = udp.decode(maps)
    keypoints = keypoints.numpy()[0] / np.array([192 / 47, 256 / 63])  # heatmap pixels
    np.testing.assert_allclose(keypoints[0], [30, 10], atol=1e-4)
    np.testing.assert_allclose(keypoints[1:], -1.0, atol=1e-6)  # all-zero too (MMPose: NaN)
    np.testing.assert_array_equal(scores.numpy(), [[1.0, 0.0, -1.0]])


def test_udp_refines_border_peaks_outwards(udp):
    # A peak cut by the top border: the edge padding gives a half-pixel step past row 0.
    heatmaps, _ = udp.encode(np.array([[[100.0, -4.0]]], np.float32))
    keypoints, _ = udp.decode(heatmaps)
    y = keypoints.numpy()[0, 0, 1] / (256 / 63)
    assert -0.6 < y < -0.4


def test_udp_rejects_unknown_heatmap_types():  # combined maps: tests/codecs/test_udp_combined.py
    with pytest.raises(ModelError, match="heatmap_type"):
        UDPHeatmap(INPUT, HEATMAP, heatmap_type="offset")


# --- Megvii --------------------------------------------------------------------------------


@pytest.fixture
def megvii() -> MegviiHeatmap:
    return MegviiHeatmap(INPUT, HEATMAP, kernel_size=11)


def test_megvii_targets_peak_at_255_on_the_truncated_pixel(megvii):
    keypoints = interior_keypoints(4)
    heatmaps, weights = megvii.encode(keypoints)
    heatmaps = heatmaps.numpy()
    assert heatmaps.shape == (4, 64, 48, 17) and np.all(weights.numpy() == 1)
    pixels = np.trunc(keypoints / 4).astype(int)
    for n, k in np.ndindex(4, 17):
        x, y = pixels[n, k]
        assert peak_xy(heatmaps[n, :, :, k]) == (x, y) and heatmaps[n, y, x, k] == 255.0


def test_megvii_weights_and_truncation_at_the_borders(megvii):
    # -2 px is heatmap -0.5, truncated to column 0: kept. -4 px is column -1: off the map.
    keypoints = np.array([[[-2.0, 100], [-4.0, 100], [191.9, 100], [192.0, 100], [50, 50]]])
    visible = np.array([[1, 1, 1, 1, 0.3]], np.float32)
    heatmaps, weights = megvii.encode(keypoints.astype(np.float32), visible)
    np.testing.assert_allclose(weights.numpy(), [[1, 0, 1, 0, 0.3]])
    peaks = heatmaps.numpy()[0].max(axis=(0, 1))
    np.testing.assert_array_equal(peaks, [255, 0, 255, 0, 0])
    assert heatmaps.numpy()[0, 25, 0, 0] == 255.0


def test_megvii_round_trip_is_exact_on_pixel_centres(megvii):
    # Keypoints on heatmap pixel centres: the blurred blob is symmetric, so no quarter step,
    # and Megvii's +0.5 px lands back on the centre. Scores are 255 / 255 + 0.5.
    keypoints = (np.floor(interior_keypoints(5) / 4) + 0.5) * 4
    decoded, scores = megvii.decode(megvii.encode(keypoints)[0])
    np.testing.assert_allclose(decoded.numpy(), keypoints, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), 1.5, rtol=1e-6)


def test_megvii_skips_the_shift_next_to_the_border(megvii):
    # Argmax in column 1 (not 1 < x): neither the quarter step nor the +0.5 px.
    heatmaps, _ = megvii.encode(np.array([[[6.0, 100.0]]], np.float32))
    decoded, _ = megvii.decode(heatmaps)
    np.testing.assert_allclose(decoded.numpy()[0, 0], [4.0, 100.0])


def test_megvii_dead_channels(megvii):
    maps = np.zeros((1, 64, 48, 2), np.float32)
    maps[0, :, :, 1] = -3.0
    keypoints, scores = megvii.decode(maps)
    np.testing.assert_array_equal(keypoints.numpy(), -4.0)  # (-1, -1) * scale
    np.testing.assert_allclose(scores.numpy(), [[0.5, -3 / 255 + 0.5]], rtol=1e-6)


def test_megvii_rejects_kernels_larger_than_the_map():
    with pytest.raises(ModelError, match="kernel_size"):
        MegviiHeatmap((32, 32), (8, 8), kernel_size=17)


# --- Shared -------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel_size", [3, 5, 7, 11, 17])
def test_cv2_gaussian_blur_matches_local_opencv(kernel_size):
    # Bit-exact against the reference's OpenCV 4.11 in the parity test; other OpenCV builds
    # (no AVX2 / FMA, newer tail loops) differ in the last bits, hence the tolerance here.
    cv2 = pytest.importorskip("cv2")
    maps = np.random.default_rng(kernel_size).uniform(-0.2, 1, (2, 30, 37, 3)).astype(np.float32)
    ours = cv2_gaussian_blur(maps, kernel_size).numpy()
    expected = np.stack(
        [
            np.stack(
                [cv2.GaussianBlur(maps[n, :, :, c], (kernel_size,) * 2, 0) for c in range(3)], -1
            )
            for n in range(2)
        ]
    )
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


def test_gaussian_blur_exact_keeps_each_maximum():
    maps = np.zeros((1, 20, 20, 3), np.float32)
    maps[0, 5, 5, 0], maps[0, 0, 19, 1] = 2.0, 0.7
    blurred = gaussian_blur_exact(maps, 7).numpy()
    np.testing.assert_allclose(blurred.max(axis=(1, 2)), [[2.0, 0.7, 0.0]], rtol=1e-6)
    assert peak_xy(blurred[0, :, :, 1]) == (19, 0)


@pytest.mark.parametrize("codec", [UDPHeatmap(INPUT, HEATMAP), MegviiHeatmap(INPUT, HEATMAP, 5)])
def test_codecs_under_xla_equal_eager(codec):
    keypoints = interior_keypoints(6, n=2)
    keypoints[0, :3] = [[-5.0, 30.0], [191.0, 0.0], [100.0, 300.0]]
    compiled = tf.function(lambda kp: codec.decode(codec.encode(kp)[0]), jit_compile=True)
    eager = codec.decode(codec.encode(keypoints)[0])
    for ours, expected in zip(compiled(tf.constant(keypoints)), eager, strict=True):
        np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=0, atol=1e-5)
