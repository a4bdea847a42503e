"""UDPHeatmap and MegviiHeatmap: round trips, weights and edge cases (MMPose parity is in
tests/parity/test_udp_megvii_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MegviiHeatmap, UDPHeatmap
from kpose.errors import ModelError

INPUT, HEATMAP = (192, 256), (48, 64)


def _keypoints(n=4, k=17, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([20, 20], [170, 230], (n, k, 2)).astype(np.float32)


def test_udp_round_trip_is_sub_pixel():
    codec = UDPHeatmap(INPUT, HEATMAP, sigma=2.0)
    kps = _keypoints()
    heatmaps, weights = codec.encode(kps)
    assert heatmaps.shape == (4, 64, 48, 17) and np.all(weights.numpy() == 1)
    decoded, scores = codec.decode(heatmaps)
    # DARK-UDP recovers the heatmap position; MMPose then scales by input / (heatmap - 1), not
    # by (input - 1) / (heatmap - 1): the round trip is x * w / (w - 1), undone by the
    # back-projection to the image (see the module docstring).
    expected = kps * np.array([192 / 191, 256 / 255], np.float32)
    assert np.abs(decoded.numpy() - expected).max() < 0.05
    assert np.all(scores.numpy() > 0.9)


def test_udp_peak_sits_at_the_udp_position():
    codec = UDPHeatmap(INPUT, HEATMAP, sigma=2.0)
    # input pixel 191 (the last) is heatmap pixel 47 exactly: (191) / ((192 - 1) / (48 - 1))
    heatmaps, _ = codec.encode(np.array([[[191.0, 0.0]]], np.float32))
    y, x = np.unravel_index(np.argmax(heatmaps.numpy()[0, :, :, 0]), (64, 48))
    assert (x, y) == (47, 0) and heatmaps.numpy()[0, 0, 47, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("codec", [UDPHeatmap(INPUT, HEATMAP, sigma=2.0),
                                   MegviiHeatmap(INPUT, HEATMAP, kernel_size=11)])
def test_invisible_and_off_map_keypoints(codec):
    kps = _keypoints(n=1, k=4)
    kps[0, 1] = [-100.0, 50.0]  # window entirely off the map
    vis = np.array([[1.0, 1.0, 0.0, 0.3]], np.float32)
    heatmaps, weights = codec.encode(kps, vis)
    np.testing.assert_allclose(weights.numpy(), [[1.0, 0.0, 0.0, 0.3]])
    peak = heatmaps.numpy().reshape(-1, 4).max(0)
    assert peak[0] > 0 and np.all(peak[1:] == 0)


def test_megvii_round_trip_and_scores():
    codec = MegviiHeatmap(INPUT, HEATMAP, kernel_size=11)
    kps = (np.floor(_keypoints() / 4) * 4 + 2).astype(np.float32)  # heatmap pixel centres
    heatmaps, _ = codec.encode(kps)
    assert float(tf.reduce_max(heatmaps)) == pytest.approx(255.0)
    decoded, scores = codec.decode(heatmaps)
    # Megvii's +0.5 px shift of the argmax (and a 0.25 px nudge) lands within a pixel
    assert np.abs(decoded.numpy() - kps).max() <= 4 * 0.75 + 1e-4
    np.testing.assert_allclose(scores.numpy(), 255.0 / 255 + 0.5, rtol=1e-5)


def test_all_zero_channels_decode_to_minus_one():
    for codec in (UDPHeatmap(INPUT, HEATMAP), MegviiHeatmap(INPUT, HEATMAP, kernel_size=5)):
        keypoints, scores = codec.decode(np.zeros((1, 64, 48, 2), np.float32))
        assert np.all(np.isfinite(keypoints.numpy()))
        assert np.all(keypoints.numpy() < 0)


def test_udp_rejects_combined_maps():
    with pytest.raises(ModelError, match="combined"):
        UDPHeatmap(INPUT, HEATMAP, heatmap_type="combined")


def test_codecs_run_under_xla():
    for codec in (UDPHeatmap(INPUT, HEATMAP), MegviiHeatmap(INPUT, HEATMAP, kernel_size=11)):
        fn = tf.function(lambda k, c=codec: c.decode(c.encode(k)[0]), jit_compile=True)
        keypoints, _ = fn(tf.constant(_keypoints(n=2)))
        assert keypoints.shape == (2, 17, 2)
