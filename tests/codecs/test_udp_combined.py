"""UDPHeatmap's combined targets (disc + x / y offset maps per keypoint): layout, round trip,
weights, the udp_combined flip and its error cases.

MMPose parity is checked in tests/parity/test_udp_combined_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import UDPHeatmap, flip_heatmaps
from kpose.errors import ModelError

INPUT, HEATMAP = (192, 256), (48, 64)  # (w, h)
SCALE = np.array([191 / 47, 255 / 63])  # input pixels per heatmap pixel, (x, y)
FLIP = [0, 2, 1, 4, 3]


@pytest.fixture
def codec() -> UDPHeatmap:
    return UDPHeatmap(INPUT, HEATMAP, heatmap_type="combined")


def interior_keypoints(seed: int, n: int = 3, k: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([30, 30], [INPUT[0] - 30, INPUT[1] - 30], (n, k, 2)).astype(np.float32)


def test_combined_maps_are_a_disc_and_offsets_per_keypoint(codec):
    keypoints = interior_keypoints(0)
    maps, weights = codec.encode(keypoints)
    assert maps.shape == (3, 64, 48, 15) and weights.shape == (3, 5)
    assert codec.radius == 3.5  # 0.0546875 x 64
    maps = maps.numpy()
    point = keypoints[1, 2] / SCALE  # heatmap pixels
    xs, ys = np.meshgrid(np.arange(48), np.arange(64))
    dx, dy = (point[0] - xs) / 3.5, (point[1] - ys) / 3.5
    np.testing.assert_array_equal(maps[1, :, :, 6], (dx**2 + dy**2 <= 1).astype(np.float32))
    np.testing.assert_allclose(maps[1, :, :, 7], dx, atol=1e-6)
    np.testing.assert_allclose(maps[1, :, :, 8], dy, atol=1e-6)
    assert 30 < maps[1, :, :, 6].sum() < 45  # about pi r^2 pixels


def test_combined_round_trip_recovers_keypoints_exactly(codec):
    keypoints = interior_keypoints(1)
    decoded, scores = codec.decode(codec.encode(keypoints)[0])
    # the disc's blurred maximum is a pixel inside it, where the offsets point at the keypoint;
    # MMPose's decoding then scales by input_size / (heatmap_size - 1)
    expected = keypoints * np.array([192 / 191, 256 / 255], np.float32)
    np.testing.assert_allclose(decoded.numpy(), expected, atol=2e-4)
    assert scores.numpy().min() > 0.3  # a 3.5 px disc blurred by a sigma-3.8 Gaussian


def test_combined_weights_keep_the_visibility_also_off_the_heatmap(codec):
    keypoints = np.array([[[100, 100], [-500, 40], [90, 120], [50, 50]]], np.float32)
    visible = np.array([[1.0, 1.0, 0.3, 2.0]], np.float32)
    maps, weights = codec.encode(keypoints, visible)
    np.testing.assert_array_equal(weights.numpy(), visible)  # no off-map rule, unlike Gaussians
    maps = maps.numpy()[0]
    assert maps[..., 3].sum() == 0 and maps[..., 4].max() < 0  # off the map: offsets remain
    assert not maps[..., 6:9].any()  # visibility < 0.5: three empty maps


def test_combined_targets_of_a_mirrored_pose_are_the_flipped_targets(codec):
    keypoints = interior_keypoints(2)
    mirrored = keypoints[:, FLIP].copy()
    mirrored[..., 0] = INPUT[0] - 1 - mirrored[..., 0]  # UDP: pixel centres map exactly
    maps, _ = codec.encode(keypoints)
    flipped = flip_heatmaps(codec.encode(mirrored)[0], FLIP, False, "udp_combined")
    np.testing.assert_allclose(flipped.numpy(), maps.numpy(), atol=1e-5)


def test_udp_combined_flip_moves_three_channels_and_negates_x_offsets():
    maps = tf.reshape(tf.range(2 * 3 * 4 * 6, dtype=tf.float32), (2, 3, 4, 6))  # K = 2
    flipped = flip_heatmaps(maps, [1, 0], shift_heatmap=False, flip_mode="udp_combined").numpy()
    mirrored = maps.numpy()[:, :, ::-1]
    np.testing.assert_array_equal(flipped[..., 0], mirrored[..., 3])
    np.testing.assert_array_equal(flipped[..., 1], -mirrored[..., 4])
    np.testing.assert_array_equal(flipped[..., 2], mirrored[..., 5])
    np.testing.assert_array_equal(flipped[..., 4], -mirrored[..., 1])


def test_combined_decode_compiles_with_xla(codec):
    maps, _ = codec.encode(interior_keypoints(3))
    eager = codec.decode(maps)
    compiled = tf.function(codec.decode, jit_compile=True)(maps)
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(compiled[1].numpy(), eager[1].numpy(), atol=1e-6)


def test_bad_heatmap_type_and_channel_counts_are_errors():
    with pytest.raises(ModelError, match="heatmap_type"):
        UDPHeatmap(INPUT, HEATMAP, heatmap_type="offsets")
    with pytest.raises(ModelError, match="radius_factor"):
        UDPHeatmap(INPUT, HEATMAP, heatmap_type="combined", radius_factor=0)
    with pytest.raises(ModelError, match="3 channels per keypoint"):
        flip_heatmaps(tf.zeros((1, 4, 4, 5)), flip_mode="udp_combined")
    with pytest.raises(ModelError, match="flip_indices has 3 entries"):
        flip_heatmaps(tf.zeros((1, 4, 4, 6)), [0, 1, 2], flip_mode="udp_combined")
    with pytest.raises(ModelError, match="flip_mode"):
        flip_heatmaps(tf.zeros((1, 4, 4, 6)), flip_mode="offset")
