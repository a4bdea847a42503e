"""MSRAHeatmap (biased and DARK) encode/decode and flip_heatmaps against MMPose 1.3.2.

One reference run per module computes everything MMPose-side; MMPose's layouts are (K, H, W)
per instance for the codec and (B, K, H, W) for ``flip_heatmaps``.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap, flip_heatmaps
from kpose.codecs.msra import gaussian_kernel_1d

pytestmark = pytest.mark.parity

K = 17
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
HEATMAP_SIZES = [(48, 64), (64, 64)]  # (w, h); inputs are 4x
ENCODE_CONFIGS = [
    (hm, sigma, unbiased)
    for hm in HEATMAP_SIZES
    for sigma in (2.0, 2.5, 3.0)  # 2.5: non-integer 3-sigma radius
    for unbiased in (False, True)
]
DECODE_CONFIGS = [
    (hm, unbiased, blur)
    for hm in HEATMAP_SIZES
    for unbiased, blur in ((False, 11), (True, 3), (True, 7), (True, 11), (True, 17))
]

_REFERENCE = """
import torch
from mmpose.codecs import MSRAHeatmap
from mmpose.models.utils.tta import flip_heatmaps
import cv2

for i, (w, h, sigma, unbiased) in enumerate(inputs["encode_configs"]):
    codec = MSRAHeatmap((int(4 * w), int(4 * h)), (int(w), int(h)), float(sigma),
                        unbiased=bool(unbiased))
    kps, vis = inputs["encode_keypoints"], inputs["encode_visible"]
    maps, weights = [], []
    for n in range(kps.shape[0]):
        out = codec.encode(kps[n:n + 1], vis[n:n + 1])
        maps.append(out["heatmaps"])
        weights.append(out["keypoint_weights"][0])
    outputs[f"encode_heatmaps_{i}"] = np.stack(maps)
    outputs[f"encode_weights_{i}"] = np.stack(weights)

for i, (w, h, unbiased, blur) in enumerate(inputs["decode_configs"]):
    codec = MSRAHeatmap((int(4 * w), int(4 * h)), (int(w), int(h)), 2.0,
                        unbiased=bool(unbiased), blur_kernel_size=int(blur))
    for kind in ("decode", "noise"):
        maps = inputs[f"{kind}_heatmaps_{int(w)}x{int(h)}"]
        kps, scores = [], []
        with np.errstate(all="ignore"):  # MMPose's blur divides 0 by 0 on all-zero maps
            for n in range(maps.shape[0]):
                kp, sc = codec.decode(maps[n])
                kps.append(kp[0])
                scores.append(sc[0])
        outputs[f"{kind}_keypoints_{i}"] = np.stack(kps)
        outputs[f"{kind}_scores_{i}"] = np.stack(scores)

for shift in (0, 1):
    outputs[f"flip_{shift}"] = flip_heatmaps(
        torch.from_numpy(inputs["flip_heatmaps"].copy()), inputs["flip_indices"].tolist(),
        shift_heatmap=bool(shift)).numpy()

outputs["cv2_kernels"] = np.concatenate(
    [cv2.getGaussianKernel(k, 0, ktype=cv2.CV_32F)[:, 0] for k in inputs["kernel_sizes"]])
"""


def _pad_to_instances(points: np.ndarray, rng) -> np.ndarray:
    """(M, 2) points -> (N, K, 2), shuffled, padded with random interior points."""
    points = rng.permutation(points)
    extra = (-len(points)) % K
    fill = rng.uniform(20, 150, size=(extra, 2))
    return np.concatenate([points, fill]).reshape(-1, K, 2).astype(np.float32)


def _encode_keypoints(rng) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in input pixels for the largest input (256 x 256) and the 192 x 256 one:
    random, integer and half-integer positions, sweeps across every border, far outside."""
    in_w = 256  # also covers the 192-wide input
    rand = rng.uniform(-60, in_w + 60, size=(300, 2))
    ints = rng.integers(-40, in_w + 40, size=(150, 2)).astype(np.float64)
    half_hm = 4 * (rng.integers(-12, 70, size=(100, 2)) + 0.5)  # x.5 in heatmap pixels
    half_in = rng.integers(-40, in_w + 40, size=(100, 2)) + 0.5  # x.5 in input pixels
    # Heatmap-pixel sweeps in 0.25 steps through the left/top borders (down to past -3 sigma
    # - 1) and the right/bottom borders of both heatmap widths (48, 64).
    sweep = (
        np.concatenate(
            [np.arange(-12.0, 2.0, 0.25), np.arange(45.0, 58.0, 0.25), np.arange(61.0, 75.0, 0.25)]
        )
        * 4
    )
    inner = rng.uniform(40, 200, size=len(sweep))
    borders = np.concatenate(
        [
            np.stack([sweep, inner], 1),
            np.stack([inner, sweep], 1),
            np.stack([sweep, sweep[::-1]], 1),
        ]
    )
    far = np.array([[-1e4, 50], [50, -1e4], [1e5, 1e5], [-1e7, -1e7]], np.float64)
    points = np.concatenate([rand, ints, half_hm, half_in, borders, far])
    keypoints = _pad_to_instances(points, rng)
    visible = rng.choice(
        np.array([0.0, 0.3, 0.49, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0], np.float32),
        size=keypoints.shape[:2],
    )
    return keypoints, visible


def _blob(h: int, w: int, cx: float, cy: float, sigma: float) -> np.ndarray:
    xs, ys = np.arange(w), np.arange(h)[:, None]
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))


def _as_instances(maps: list, rng) -> np.ndarray:
    """Shuffle a list of (h, w) maps and group them into (N, K, h, w) float32 instances."""
    maps = np.stack(maps).astype(np.float32)
    maps = maps[rng.permutation(len(maps))]
    maps = np.concatenate([maps, maps[: (-len(maps)) % K]])
    return maps.reshape(-1, K, *maps.shape[1:])


def _decode_heatmaps(rng, w: int, h: int) -> np.ndarray:
    """(N, K, h, w) maps on which DARK's Newton step is well posed (a blob around the peak):
    Gaussian blobs with noise anywhere incl. across the borders, peaks on every border column
    and row, ties between two blobs, flat, all-zero, negative and tiny (singular DARK Hessian)
    maps."""
    maps = []
    for _ in range(6 * K):
        cx, cy = rng.uniform(-2, w + 1), rng.uniform(-2, h + 1)
        maps.append(
            rng.uniform(0.2, 1.0) * _blob(h, w, cx, cy, rng.uniform(1.5, 3.5))
            + rng.uniform(-0.02, 0.05, size=(h, w))
        )
    for x in (0, 1, 2, 3, w - 4, w - 3, w - 2, w - 1):
        for y in (0, 1, 2, 3, h // 2, h - 4, h - 3, h - 2, h - 1):
            for symmetric in (False, True):
                m = 0.6 * _blob(h, w, x + rng.uniform(-0.5, 0.5), y + rng.uniform(-0.5, 0.5), 2)
                m += rng.uniform(0, 0.05, size=(h, w))
                if symmetric:  # equal neighbours: no quarter shift
                    m[y, max(x - 1, 0)] = m[y, min(x + 1, w - 1)] = 0.5
                    m[max(y - 1, 0), x] = m[min(y + 1, h - 1), x] = 0.5
                m[y, x] = 1.0
                maps.append(m)
    for _ in range(2 * K):  # two blobs with exactly equal peaks: the first in row-major wins
        (x1, x2), (y1, y2) = rng.integers(3, w - 3, 2), rng.integers(3, h - 3, 2)
        m = _blob(h, w, x1, y1, 2) + _blob(h, w, x2, y2, 2.5)
        m += rng.uniform(0, 0.05, size=(h, w))
        m[y1, x1] = m[y2, x2] = m.max() + 0.01
        maps.append(m)
    maps.append(np.full((h, w), 0.3))
    maps.append(np.zeros((h, w)))
    maps.append(-rng.uniform(0.1, 1, size=(h, w)))
    negative_with_zero = -rng.uniform(0.1, 1, size=(h, w))
    negative_with_zero[h // 2, w // 2] = 0.0
    maps.append(negative_with_zero)
    maps.append(1e-12 * _blob(h, w, w / 2 + 0.3, h / 2 - 0.2, 2))  # log clamp: singular
    return _as_instances(maps, rng)


def _noise_heatmaps(rng, w: int, h: int) -> np.ndarray:
    """(N, K, h, w) maps of uniform noise, some with several equal spikes (argmax ties)."""
    maps = [rng.uniform(0, 1, size=(h, w)) for _ in range(K)]
    for _ in range(2 * K):
        m = rng.uniform(0, 0.5, size=(h, w))
        for _ in range(rng.integers(2, 5)):
            m[rng.integers(0, h), rng.integers(0, w)] = 0.9
        maps.append(m)
    return _as_instances(maps, rng)


def _build_inputs() -> dict:
    rng = np.random.default_rng(20240521)
    keypoints, visible = _encode_keypoints(rng)
    inputs = {
        "encode_configs": np.array([(w, h, s, u) for (w, h), s, u in ENCODE_CONFIGS], np.float64),
        "encode_keypoints": keypoints,
        "encode_visible": visible,
        "decode_configs": np.array([(w, h, u, b) for (w, h), u, b in DECODE_CONFIGS], np.int64),
        "flip_heatmaps": rng.uniform(0, 1, size=(3, K, 16, 12)).astype(np.float32),
        "flip_indices": np.array(COCO_FLIP),
        "kernel_sizes": np.array([3, 5, 7, 9, 11, 13, 17, 21]),
    }
    for w, h in HEATMAP_SIZES:
        inputs[f"decode_heatmaps_{w}x{h}"] = _decode_heatmaps(rng, w, h)
        inputs[f"noise_heatmaps_{w}x{h}"] = _noise_heatmaps(rng, w, h)
    return inputs


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    inputs = _build_inputs()
    return inputs, mmpose_ref(_REFERENCE, **inputs)


def _maybe_compiled(fn, compiled: bool):
    return tf.function(fn, jit_compile=True) if compiled else fn


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
@pytest.mark.parametrize("index", range(len(ENCODE_CONFIGS)))
def test_encode_matches_mmpose(reference, index, compiled):
    inputs, ref = reference
    (w, h), sigma, unbiased = ENCODE_CONFIGS[index]
    codec = MSRAHeatmap((4 * w, 4 * h), (w, h), sigma=sigma, unbiased=unbiased)
    encode = _maybe_compiled(codec.encode, compiled)
    heatmaps, weights = encode(inputs["encode_keypoints"], inputs["encode_visible"])
    expected = ref[f"encode_heatmaps_{index}"].transpose(0, 2, 3, 1)  # (N, K, H, W) -> NHWC
    assert heatmaps.shape == expected.shape
    assert np.abs(np.asarray(heatmaps) - expected).max() <= 1e-6
    np.testing.assert_array_equal(np.asarray(weights), ref[f"encode_weights_{index}"])
    # The case mix must exercise every rule: empty and partial windows, zeroed weights.
    assert (ref[f"encode_weights_{index}"] == 0).sum() > 50
    assert (expected.max(axis=(1, 2)) == 0).sum() > 100


def _decode(
    inputs: dict, index: int, kind: str, compiled: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    (w, h), unbiased, blur = DECODE_CONFIGS[index]
    codec = MSRAHeatmap((4 * w, 4 * h), (w, h), sigma=2.0, unbiased=unbiased, blur_kernel_size=blur)
    decode = _maybe_compiled(codec.decode, compiled)
    keypoints, scores = decode(inputs[f"{kind}_heatmaps_{w}x{h}"].transpose(0, 2, 3, 1))
    return np.asarray(keypoints), np.asarray(scores)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
@pytest.mark.parametrize("index", range(len(DECODE_CONFIGS)))
def test_decode_matches_mmpose(reference, index, compiled):
    inputs, ref = reference
    keypoints, scores = _decode(inputs, index, "decode", compiled)
    expected = ref[f"decode_keypoints_{index}"]
    assert np.abs(keypoints - expected).max() <= 1e-4
    assert np.abs(scores - ref[f"decode_scores_{index}"]).max() <= 1e-6
    assert (expected == -4).all(axis=-1).sum() >= 3  # zero / negative maps -> (-1, -1) * 4


@pytest.mark.parametrize("index", range(len(DECODE_CONFIGS)))
def test_decode_noise_maps(reference, index):
    """On pure noise DARK's Newton step is ill-conditioned (offsets of many pixels), so
    last-bit differences between cv2's and TF's blur get amplified: there only the argmax,
    the scores and whether a keypoint was refined must agree. Argmax ties are in here."""
    inputs, ref = reference
    keypoints, scores = _decode(inputs, index, "noise")
    expected = ref[f"noise_keypoints_{index}"]
    np.testing.assert_array_equal(scores, ref[f"noise_scores_{index}"])
    if not DECODE_CONFIGS[index][1]:
        assert np.abs(keypoints - expected).max() <= 1e-4
        return
    (w, h), _, _ = DECODE_CONFIGS[index]
    maps = inputs[f"noise_heatmaps_{w}x{h}"]
    flat = maps.reshape(*maps.shape[:2], -1).argmax(-1)
    argmax = np.stack([flat % w, flat // w], -1) * 4.0
    np.testing.assert_array_equal(keypoints != argmax, expected != argmax)


def test_flip_heatmaps_matches_mmpose(reference):
    inputs, ref = reference
    maps = inputs["flip_heatmaps"].transpose(0, 2, 3, 1)
    for shift in (0, 1):
        ours = flip_heatmaps(maps, COCO_FLIP, shift_heatmap=bool(shift))
        np.testing.assert_array_equal(np.asarray(ours).transpose(0, 3, 1, 2), ref[f"flip_{shift}"])


def test_blur_kernel_matches_reference_cv2(reference):
    inputs, ref = reference
    ours = np.concatenate([gaussian_kernel_1d(int(k)) for k in inputs["kernel_sizes"]])
    np.testing.assert_array_equal(ours, ref["cv2_kernels"])
