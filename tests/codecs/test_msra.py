"""MSRAHeatmap encode/decode rules, DARK, the cv2-compatible blur and the flip-test helpers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap, flip_heatmaps, flip_test_average
from kpose.codecs.msra import gaussian_blur, gaussian_kernel_1d
from kpose.errors import ModelError

INPUT, HEATMAP, STRIDE = (192, 256), (48, 64), 4.0


@pytest.fixture
def codec() -> MSRAHeatmap:
    return MSRAHeatmap(INPUT, HEATMAP, sigma=2.0)


def interior_keypoints(seed: int, n: int = 4, k: int = 17) -> np.ndarray:
    """(n, k, 2) input-pixel keypoints at least 10 heatmap pixels from every border."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(40, INPUT[0] - 40, size=(n, k))
    y = rng.uniform(40, INPUT[1] - 40, size=(n, k))
    return np.stack([x, y], -1).astype(np.float32)


def peak_xy(heatmap: np.ndarray) -> tuple[int, int]:
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return int(x), int(y)


def test_peak_sits_on_rounded_position(codec):
    keypoints = interior_keypoints(0)
    heatmaps, weights = codec.encode(keypoints, np.ones(keypoints.shape[:2], np.float32))
    heatmaps = np.asarray(heatmaps)
    assert heatmaps.shape == (4, HEATMAP[1], HEATMAP[0], 17)
    np.testing.assert_array_equal(weights, 1.0)
    rounded = np.trunc(keypoints / STRIDE + 0.5).astype(int)
    for n in range(4):
        for k in range(17):
            assert peak_xy(heatmaps[n, :, :, k]) == tuple(rounded[n, k])
    assert heatmaps.max() == 1.0
    # 13 x 13 window for sigma 2 (radius 3 sigma), Gaussian value at a corner.
    assert (heatmaps[0, :, :, 0] > 0).sum() == 13 * 13
    x, y = rounded[0, 0]
    assert heatmaps[0, y + 6, x + 6, 0] == pytest.approx(np.exp(-72 / 8), rel=1e-6)


def test_rounding_truncates_toward_zero(codec):
    # -3 input px = -0.75 heatmap px: int(-0.25) = 0 (floor would give -1), so column 0 peaks.
    heatmaps, weights = codec.encode(np.array([[[-3.0, 100.0], [-6.0, 100.0]]], np.float32))
    heatmaps = np.asarray(heatmaps)
    assert heatmaps[0, 25, 0, 0] == 1.0
    assert heatmaps[0, 25, 0, 1] == pytest.approx(np.exp(-1 / 8))  # -1.5 + 0.5 -> -1
    np.testing.assert_array_equal(weights, [[1.0, 1.0]])


def test_invisible_keypoints_get_empty_maps(codec):
    keypoints = interior_keypoints(1, n=1, k=4)
    visible = np.array([[0.0, 0.3, 0.5, 2.0]], np.float32)
    heatmaps, weights = codec.encode(keypoints, visible)
    heatmaps = np.asarray(heatmaps)
    assert heatmaps[0, :, :, 0].max() == 0 and heatmaps[0, :, :, 1].max() == 0
    assert heatmaps[0, :, :, 2].max() == 1 and heatmaps[0, :, :, 3].max() == 1
    # MMPose keeps the visibility as weight, also below the 0.5 threshold.
    np.testing.assert_allclose(weights, visible)


def test_out_of_bounds_keypoints_get_zero_weight(codec):
    w = HEATMAP[0]
    xs_heatmap = [-8.5, -7.5, w + 5.0, w + 5.5, w + 6.0]
    keypoints = np.array([[[x * STRIDE, 100.0] for x in xs_heatmap]], np.float32)
    heatmaps, weights = codec.encode(keypoints)
    heatmaps = np.asarray(heatmaps)
    # -8.5 -> mu -8, window [-14, -1): off. -7.5 -> mu -7, window stops at 0: kept but empty.
    # w + 5 -> mu w + 5, window starts at w - 1: one column. w + 5.5 / w + 6: starts at w: off.
    np.testing.assert_array_equal(weights, [[0.0, 1.0, 1.0, 0.0, 0.0]])
    assert heatmaps[0, :, :, 1].max() == 0
    np.testing.assert_array_equal(np.nonzero(heatmaps[0, :, :, 2].max(0))[0], [w - 1])
    assert heatmaps[0, :, w - 1, 2].max() == pytest.approx(np.exp(-36 / 8), rel=1e-6)


def test_partial_window_at_corner(codec):
    heatmaps, weights = codec.encode(np.array([[[4.0, 4.0]]], np.float32))  # heatmap (1, 1)
    heatmap = np.asarray(heatmaps)[0, :, :, 0]
    assert weights.numpy()[0, 0] == 1.0
    assert heatmap[1, 1] == 1.0
    assert heatmap[0, 0] == pytest.approx(np.exp(-2 / 8), rel=1e-6)
    assert (heatmap > 0).sum() == 8 * 8  # rows and columns 0..7


def test_unbiased_encoding_is_exact_gaussian():
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0, unbiased=True)
    heatmaps, weights = codec.encode(np.array([[[81.0, 122.0]]], np.float32))  # (20.25, 30.5)
    heatmap = np.asarray(heatmaps)[0, :, :, 0]
    xs, ys = np.arange(HEATMAP[0]), np.arange(HEATMAP[1])[:, None]
    expected = np.exp(-((xs - 20.25) ** 2 + (ys - 30.5) ** 2) / 8)
    np.testing.assert_allclose(heatmap, expected, rtol=1e-5, atol=1e-30)
    assert heatmap[30, 30] > 0  # ~10 px away: no 3-sigma window
    assert weights.numpy()[0, 0] == 1.0


def test_biased_round_trip(codec):
    keypoints = interior_keypoints(2)
    decoded, scores = codec.decode(codec.encode(keypoints)[0])
    # The target is centred on the rounded position with equal neighbours, so no quarter shift:
    # decoding returns the rounded position, at most half a stride away.
    np.testing.assert_array_equal(decoded, np.trunc(keypoints / STRIDE + 0.5) * STRIDE)
    assert np.abs(np.asarray(decoded) - keypoints).max() <= 0.5 * STRIDE
    np.testing.assert_array_equal(scores, 1.0)


@pytest.mark.parametrize("sigma, blur", [(2.0, 11), (3.0, 17), (3.0, 11)])
def test_dark_round_trip(sigma, blur):
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=sigma, unbiased=True, blur_kernel_size=blur)
    keypoints = interior_keypoints(3)
    decoded, _ = codec.decode(codec.encode(keypoints)[0])
    assert np.abs(np.asarray(decoded) - keypoints).max() < 0.05


def test_quarter_shift_and_its_border_rules(codec):
    w, h = HEATMAP
    heatmaps = np.zeros((1, h, w, 4), np.float32)
    for k, (x, y) in enumerate([(5, 7), (1, 7), (5, 0), (w - 1, 7)]):
        heatmaps[0, y, x, k] = 1.0
        heatmaps[0, y, x + 1 if x + 1 < w else x - 1, k] = 0.5  # one higher horizontal side
        heatmaps[0, y + 1, x, k] = 0.4  # higher below
    decoded, scores = codec.decode(heatmaps)
    expected = (
        np.array(
            [
                [5.25, 7.25],  # both steps
                [1.0, 7.25],  # x = 1: MMPose needs 1 < x, no x step
                [5.0, 0.0],  # y = 0: MMPose needs 0 < y for the x step and 1 < y for the y step
                [w - 1, 7.25],  # x = w - 1: no x step
            ]
        )
        * STRIDE
    )
    np.testing.assert_array_equal(decoded[0], expected)
    np.testing.assert_array_equal(scores, 1.0)


def test_ties_zero_and_negative_maps(codec):
    w, h = HEATMAP
    heatmaps = np.zeros((1, h, w, 3), np.float32)
    heatmaps[0, 10, 20, 0] = heatmaps[0, 10, 5, 0] = heatmaps[0, 30, 2, 0] = 0.8
    heatmaps[0, :, :, 2] = -0.5
    decoded, scores = codec.decode(heatmaps)
    np.testing.assert_array_equal(decoded[0, 0], [5 * STRIDE, 10 * STRIDE])  # first wins
    np.testing.assert_array_equal(decoded[0, 1:], -STRIDE)  # max <= 0: (-1, -1) * stride
    np.testing.assert_allclose(scores[0], [0.8, 0.0, -0.5])


def test_decode_accepts_numpy_float64_and_dark_handles_zero_maps():
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0, unbiased=True)
    heatmaps = np.zeros((2, HEATMAP[1], HEATMAP[0], 3))
    heatmaps[1, 20, 20, 1] = 1.0
    decoded, scores = codec.decode(heatmaps)
    assert decoded.dtype == tf.float32 and scores.dtype == tf.float32
    assert np.isfinite(decoded).all()
    np.testing.assert_array_equal(decoded[0], -STRIDE)


@pytest.mark.parametrize("unbiased", [False, True])
def test_encode_and_decode_compile_with_xla(unbiased):
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0, unbiased=unbiased)
    keypoints = interior_keypoints(4)
    keypoints[0, 0] = [-500.0, 20.0]  # off the map
    visible = np.ones(keypoints.shape[:2], np.float32)
    visible[1, 3] = 0.0
    encode = tf.function(
        codec.encode,
        jit_compile=True,
        input_signature=[
            tf.TensorSpec((None, 17, 2), tf.float32),
            tf.TensorSpec((None, 17), tf.float32),
        ],
    )
    heatmaps, weights = encode(keypoints, visible)
    eager_heatmaps, eager_weights = codec.encode(keypoints, visible)
    np.testing.assert_allclose(heatmaps, eager_heatmaps, atol=1e-7)
    np.testing.assert_array_equal(weights, eager_weights)
    assert weights.numpy()[0, 0] == 0.0 and weights.numpy()[1, 3] == 0.0

    decode = tf.function(codec.decode, jit_compile=True)
    decoded, scores = decode(heatmaps)
    eager_decoded, eager_scores = codec.decode(heatmaps)
    np.testing.assert_allclose(decoded, eager_decoded, atol=1e-4)
    np.testing.assert_array_equal(scores, eager_scores)


@pytest.mark.parametrize("size", [3, 5, 7, 9, 11, 17, 21])
def test_blur_kernel_is_cv2s(size):
    expected = cv2.getGaussianKernel(size, 0, ktype=cv2.CV_32F)[:, 0]
    np.testing.assert_array_equal(gaussian_kernel_1d(size), expected)


@pytest.mark.parametrize("size", [3, 11, 17])
def test_blur_equals_zero_padded_cv2_blur(size):
    rng = np.random.default_rng(size)
    heatmaps = rng.uniform(0, 1, size=(2, 16, 12, 3)).astype(np.float32)
    border = size // 2
    expected = np.empty_like(heatmaps)
    for n in range(2):
        for k in range(3):
            padded = np.pad(heatmaps[n, :, :, k], border)
            blurred = cv2.GaussianBlur(padded, (size, size), 0)[border:-border, border:-border]
            expected[n, :, :, k] = blurred * (heatmaps[n, :, :, k].max() / blurred.max())
    np.testing.assert_allclose(gaussian_blur(heatmaps, size), expected, rtol=2e-6)


def test_invalid_blur_kernel_size():
    with pytest.raises(ModelError, match="odd") as err:
        MSRAHeatmap(INPUT, HEATMAP, unbiased=True, blur_kernel_size=10)
    assert isinstance(err.value, ValueError)  # callers catching ValueError keep working


def test_flip_heatmaps_on_toy_map():
    heatmaps = np.arange(2 * 3 * 4 * 3, dtype=np.float32).reshape(2, 3, 4, 3)  # (N, h, w, K)
    flip_indices = [0, 2, 1]
    plain = np.asarray(flip_heatmaps(heatmaps, flip_indices, shift_heatmap=False))
    for k, source in enumerate(flip_indices):
        np.testing.assert_array_equal(plain[..., k], heatmaps[:, :, ::-1, source])
    shifted = np.asarray(flip_heatmaps(heatmaps, flip_indices))
    np.testing.assert_array_equal(shifted[:, :, 1:], plain[:, :, :-1])  # one pixel towards +x
    np.testing.assert_array_equal(shifted[:, :, 0], plain[:, :, 0])  # column 0 keeps its value
    no_swap = np.asarray(flip_heatmaps(heatmaps, shift_heatmap=False))
    np.testing.assert_array_equal(no_swap, heatmaps[:, :, ::-1])
    np.testing.assert_array_equal(flip_test_average(heatmaps, plain), (heatmaps + plain) * 0.5)
    with pytest.raises(ModelError, match="flip_indices has 2 entries"):
        flip_heatmaps(heatmaps, [1, 0])


def test_flip_shift_realigns_mirrored_targets(codec):
    # A keypoint on the grid (x = 96 -> heatmap 24) mirrored in the crop (x' = w_in - 1 - x =
    # 95 -> 23.75 -> 24) lands one column left (47 - 24 = 23) once flipped back: MSRA's
    # -0.75 px flip bias, which the one-pixel shift corrects.
    keypoints = np.array([[[96.0, 128.0]]], np.float32)
    mirrored = np.array([[[INPUT[0] - 1 - 96.0, 128.0]]], np.float32)
    original = np.asarray(codec.encode(keypoints)[0])[0, :, :, 0]
    flipped = codec.encode(mirrored)[0]
    unshifted = np.asarray(flip_heatmaps(flipped, [0], shift_heatmap=False))[0, :, :, 0]
    shifted = np.asarray(flip_heatmaps(flipped, [0]))[0, :, :, 0]
    assert peak_xy(original) == (24, 32)
    assert peak_xy(unshifted) == (23, 32)
    np.testing.assert_array_equal(shifted, original)
