"""UDPHeatmap and MegviiHeatmap encode/decode, and the OpenCV blur they share, against MMPose
1.3.2 (and the reference's OpenCV 4.11).

One reference run per module computes everything MMPose-side; MMPose's layouts are (K, H, W)
per instance. Inputs are 4x the heatmap; 47 x 63 adds odd sizes (OpenCV's scalar tail loops).
Tolerances: encode <= 1e-6, decode <= 1e-4 input px, scores <= 1e-5 (Megvii measures 0);
the OpenCV blur must be bit-exact. The measured maxima are in the assertion messages.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MegviiHeatmap, UDPHeatmap
from kpose.codecs.megvii import cv2_gaussian_blur, gaussian_blur_exact

pytestmark = pytest.mark.parity

K = 17
HEATMAP_SIZES = [(48, 64), (64, 64), (47, 63)]  # (w, h)
UDP_ENCODE = [(hm, sigma) for hm in HEATMAP_SIZES for sigma in (2.0, 2.5, 3.0)]
UDP_DECODE = [(hm, blur) for hm in HEATMAP_SIZES for blur in (3, 7, 11, 17)]
MEGVII = [(hm, k) for hm in HEATMAP_SIZES for k in (5, 7, 9, 11, 15)]
BLUR_SIZES = (3, 5, 7, 9, 11, 15, 17, 23)

_REFERENCE = """
import types

import cv2
import mmpose.codecs.utils.refinement as refinement
from mmpose.codecs import MegviiHeatmap, UDPHeatmap
from mmpose.codecs.utils import gaussian_blur


def encode(codec, kps, vis):
    maps, weights = [], []
    for n in range(kps.shape[0]):
        out = codec.encode(kps[n:n + 1], vis[n:n + 1])
        maps.append(out["heatmaps"])
        weights.append(out["keypoint_weights"][0])
    return np.stack(maps), np.stack(weights)


def decode(codec, maps):
    kps, scores = [], []
    with np.errstate(all="ignore"):  # all-zero maps: MMPose's blur divides 0 by 0
        for n in range(maps.shape[0]):
            kp, sc = codec.decode(maps[n].copy())
            kps.append(kp[0])
            scores.append(sc[0])
    return np.stack(kps), np.stack(scores)


def rounded_log(x, out=None):  # float32 log rounded from float64, as kpose computes it
    result = np.log(x.astype(np.float64)).astype(x.dtype)
    if out is None:
        return result
    out[...] = result
    return out


kps, vis = inputs["encode_keypoints"], inputs["encode_visible"]
for i, (w, h, sigma) in enumerate(inputs["udp_encode"]):
    codec = UDPHeatmap((int(4 * w), int(4 * h)), (int(w), int(h)), sigma=float(sigma))
    outputs[f"udp_encode_{i}"], outputs[f"udp_weights_{i}"] = encode(codec, kps, vis)
for log in ("numpy", "rounded"):
    if log == "rounded":  # DARK-UDP with numpy's float32 log (<= 4 ulps off) swapped out
        names = {k: getattr(np, k) for k in dir(np) if not k.startswith("__")}
        refinement.np = types.SimpleNamespace(**{**names, "log": rounded_log})
    for i, (w, h, blur) in enumerate(inputs["udp_decode"]):
        codec = UDPHeatmap((4 * w, 4 * h), (w, h), blur_kernel_size=int(blur))
        for kind in ("decode", "noise"):
            out = decode(codec, inputs[f"{kind}_heatmaps_{w}x{h}"])
            outputs[f"udp_{kind}_{log}_keypoints_{i}"], outputs[f"udp_{kind}_scores_{i}"] = out
refinement.np = np

for i, (w, h, k) in enumerate(inputs["megvii"]):
    codec = MegviiHeatmap((4 * w, 4 * h), (w, h), kernel_size=int(k))
    outputs[f"megvii_encode_{i}"], outputs[f"megvii_weights_{i}"] = encode(codec, kps, vis)
    maps = [outputs[f"megvii_encode_{i}"]]
    maps += [255 * inputs[f"{kind}_heatmaps_{w}x{h}"] for kind in ("decode", "noise")]
    out = decode(codec, np.concatenate(maps))
    outputs[f"megvii_keypoints_{i}"], outputs[f"megvii_scores_{i}"] = out

for w, h in inputs["heatmap_sizes"]:
    maps = inputs[f"decode_heatmaps_{w}x{h}"][:4]
    for k in inputs["blur_sizes"]:
        outputs[f"cv2_{w}x{h}_{k}"] = np.stack(
            [[cv2.GaussianBlur(m, (int(k), int(k)), 0) for m in inst] for inst in maps])
        outputs[f"blur_{w}x{h}_{k}"] = np.stack([gaussian_blur(m.copy(), int(k)) for m in maps])
"""


def _encode_keypoints(rng) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 2) input-pixel keypoints for every config: random, integer and half-integer,
    1-px sweeps through every border of every input size (all window-edge cases), far off."""
    rand = rng.uniform(-60, 316, size=(400, 2))
    ints = rng.integers(-40, 296, size=(150, 2)).astype(np.float64)
    halves = rng.integers(-40, 296, size=(100, 2)) + 0.5
    sweep = np.concatenate(
        [np.arange(-60.0, 12.0)] + [np.arange(s - 12.0, s + 60.0) for s in (188, 192, 252, 256)]
    )
    inner = rng.uniform(40, 180, size=len(sweep))
    borders = np.concatenate(
        [np.stack([sweep, inner], 1), np.stack([inner, sweep], 1), np.stack([sweep, sweep], 1)]
    )
    far = np.array([[-1e4, 50], [50, -1e4], [1e5, 1e5], [-1e7, -1e7]])
    points = rng.permutation(np.concatenate([rand, ints, halves, borders, far]))
    points = np.concatenate([points, rng.uniform(20, 150, size=((-len(points)) % K, 2))])
    keypoints = points.reshape(-1, K, 2).astype(np.float32)
    visible = rng.choice(
        np.array([0.0, 0.3, 0.49, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0], np.float32),
        size=keypoints.shape[:2],
    )
    return keypoints, visible


def _blob(h: int, w: int, cx: float, cy: float, sigma: float) -> np.ndarray:
    xs, ys = np.arange(w), np.arange(h)[:, None]
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))


def _as_instances(maps: list, rng) -> np.ndarray:
    """Shuffle (h, w) maps and group them into (N, K, h, w) float32 instances."""
    maps = np.stack(maps)[rng.permutation(len(maps))]
    maps = np.concatenate([maps, maps[: (-len(maps)) % K]])
    return maps.reshape(-1, K, *maps.shape[1:]).astype(np.float32)


def _decode_heatmaps(rng, w: int, h: int) -> np.ndarray:
    """(N, K, h, w) maps with a peak, as a trained model gives them: noisy blobs anywhere,
    also cut by the borders, peaks on every border row / column, exact ties between blobs,
    and, in the last instance, dead channels: all-zero and negative ones, including negative
    channels whose (-1, -1) reads a neighbour's corner peak (MMPose indexes all channels as
    one flat array)."""
    maps = []
    for _ in range(8 * K):
        cx, cy = rng.uniform(-3, w + 2), rng.uniform(-3, h + 2)
        blob = rng.uniform(0.3, 1.0) * _blob(h, w, cx, cy, rng.uniform(1.5, 3.5))
        maps.append(blob + rng.uniform(-0.02, 0.04, size=(h, w)))
    for x in (0, 1, 2, w // 2, w - 3, w - 2, w - 1):
        for y in (0, 1, 2, h // 2, h - 3, h - 2, h - 1):
            m = _blob(h, w, x + rng.uniform(-0.5, 0.5), y + rng.uniform(-0.5, 0.5), 2)
            m = 0.8 * m + rng.uniform(0, 0.04, size=(h, w))
            m[y, x] = 1.0
            maps.append(m)
    for _ in range(K):  # two equal maxima: the first in row-major order wins
        (x1, x2), (y1, y2) = rng.integers(0, w, 2), rng.integers(0, h, 2)
        m = _blob(h, w, x1, y1, 2) + _blob(h, w, x2, y2, 3) + rng.uniform(0, 0.04, size=(h, w))
        m[y1, x1] = m[y2, x2] = m.max() + 0.01
        maps.append(m)
    dead = rng.uniform(0, 0.04, size=(K, h, w)) + _blob(h, w, w / 2, h / 2, 2)
    dead[0] = -rng.uniform(0.1, 1, size=(h, w))  # reads channel K - 1 (numpy's wrap-around)
    dead[K - 1] += _blob(h, w, w - 1.3, h - 1.6, 2)  # a peak in that corner
    dead[5] = -0.5  # after a flat channel
    dead[7] += _blob(h, w, w - 0.6, h - 1.2, 2.5)
    dead[8] = -rng.uniform(0.1, 1, size=(h, w))
    dead[11] = 0.0  # all zero: MMPose's blur gives NaN
    dead[12] = -rng.uniform(0.1, 1, size=(h, w))  # reads the NaN channel in MMPose
    return np.concatenate([_as_instances(maps, rng), dead[None].astype(np.float32)])


def _noise_heatmaps(rng, w: int, h: int) -> np.ndarray:
    """(N, K, h, w) maps without a peak: uniform noise, some with equal spikes (ties)."""
    maps = [rng.uniform(0, 1, size=(h, w)) for _ in range(K)]
    for _ in range(K):
        m = rng.uniform(0, 0.5, size=(h, w))
        for _ in range(rng.integers(2, 5)):
            m[rng.integers(0, h), rng.integers(0, w)] = 0.9
        maps.append(m)
    return _as_instances(maps, rng)


def _build_inputs() -> dict:
    rng = np.random.default_rng(20240607)
    keypoints, visible = _encode_keypoints(rng)
    inputs = {
        "encode_keypoints": keypoints,
        "encode_visible": visible,
        "udp_encode": np.array([(w, h, s) for (w, h), s in UDP_ENCODE], np.float64),
        "udp_decode": np.array([(w, h, b) for (w, h), b in UDP_DECODE], np.int64),
        "megvii": np.array([(w, h, k) for (w, h), k in MEGVII], np.int64),
        "heatmap_sizes": np.array(HEATMAP_SIZES, np.int64),
        "blur_sizes": np.array(BLUR_SIZES, np.int64),
    }
    for w, h in HEATMAP_SIZES:
        inputs[f"decode_heatmaps_{w}x{h}"] = _decode_heatmaps(rng, w, h)
        inputs[f"noise_heatmaps_{w}x{h}"] = _noise_heatmaps(rng, w, h)
    return inputs


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    inputs = _build_inputs()
    return inputs, mmpose_ref(_REFERENCE, **inputs)


def _nhwc(maps: np.ndarray) -> np.ndarray:
    return maps.transpose(0, 2, 3, 1)


def _with_xla(configs: list) -> list:
    """(index, compiled) pairs: every config eagerly, those of the first size also under XLA
    (compiling every kernel size for every map size would triple the module's run time)."""
    return [(i, False) for i in range(len(configs))] + [
        (i, True) for i, config in enumerate(configs) if config[0] == HEATMAP_SIZES[0]
    ]


def _ids(pairs: list) -> list:
    return [f"{i}-{'xla' if compiled else 'eager'}" for i, compiled in pairs]


def _maybe_compiled(fn, compiled: bool):
    return tf.function(fn, jit_compile=True) if compiled else fn


def _check_encode(name, codec, inputs, ref, heatmaps_key, weights_key, compiled):
    encode = _maybe_compiled(codec.encode, compiled)
    heatmaps, weights = encode(inputs["encode_keypoints"], inputs["encode_visible"])
    expected = _nhwc(ref[heatmaps_key])
    assert heatmaps.shape == expected.shape
    diff = float(np.abs(heatmaps.numpy() - expected).max())
    assert diff <= 1e-6, f"{name} encode: max abs diff {diff:.3g}"
    np.testing.assert_array_equal(weights.numpy(), ref[weights_key])
    # The mix must exercise every rule: zeroed weights, empty and partial windows.
    assert (ref[weights_key] == 0).sum() > 50
    assert (expected.max(axis=(1, 2)) == 0).sum() > 100


def _decode(codec, maps: np.ndarray, compiled: bool) -> tuple[np.ndarray, np.ndarray]:
    keypoints, scores = _maybe_compiled(codec.decode, compiled)(_nhwc(maps))
    keypoints, scores = keypoints.numpy(), scores.numpy()
    assert np.isfinite(keypoints).all() and np.isfinite(scores).all()
    return keypoints, scores


def _defined(maps: np.ndarray, ref_keypoints: np.ndarray, ref_scores: np.ndarray) -> np.ndarray:
    """(N, K) channels where MMPose's result is finite. Its NaNs must be exactly the all-zero
    channels (0 / 0 in its blur) and dead channels reading one of them (kpose: finite)."""
    peaks = maps.max(axis=(2, 3))
    undefined = np.isnan(ref_keypoints).any(-1) | np.isnan(ref_scores)
    assert (peaks[undefined] <= 0).all() and undefined[peaks == 0].all()
    return ~undefined


def _max_diff(ours: np.ndarray, expected: np.ndarray, where: np.ndarray) -> float:
    return float(np.abs(ours - expected)[where].max())


@pytest.mark.parametrize(
    ("index", "compiled"), _with_xla(UDP_ENCODE), ids=_ids(_with_xla(UDP_ENCODE))
)
def test_udp_encode_matches_mmpose(reference, index, compiled):
    inputs, ref = reference
    (w, h), sigma = UDP_ENCODE[index]
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), sigma=sigma)
    name = f"UDP {w}x{h} sigma {sigma}"
    _check_encode(name, codec, inputs, ref, f"udp_encode_{index}", f"udp_weights_{index}", compiled)
    # MMPose's quirk is in the mix too: windows ending at column / row 0 keep weight 1 but
    # leave the map empty.
    empty = ref[f"udp_encode_{index}"].max(axis=(2, 3)) == 0
    assert (empty & (ref[f"udp_weights_{index}"] >= 0.5)).sum() > 0


@pytest.mark.parametrize(
    ("index", "compiled"), _with_xla(UDP_DECODE), ids=_ids(_with_xla(UDP_DECODE))
)
def test_udp_decode_matches_mmpose(reference, index, compiled):
    """Peaked maps: within 1e-4 px of MMPose. Against MMPose with a correctly rounded float32
    log (numpy's is up to 4 ulps off), within float32 rounding of the output."""
    inputs, ref = reference
    (w, h), blur = UDP_DECODE[index]
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), blur_kernel_size=blur)
    name = f"UDP {w}x{h} blur {blur}"
    maps = inputs[f"decode_heatmaps_{w}x{h}"]
    keypoints, scores = _decode(codec, maps, compiled)
    expected_scores = ref[f"udp_decode_scores_{index}"]
    expected = ref[f"udp_decode_numpy_keypoints_{index}"]
    defined = _defined(maps, expected, expected_scores)
    kp_diff = _max_diff(keypoints, expected, defined)
    rounded_diff = _max_diff(keypoints, ref[f"udp_decode_rounded_keypoints_{index}"], defined)
    score_diff = _max_diff(scores, expected_scores, defined)
    assert kp_diff <= 1e-4, f"{name} decode: max keypoint diff {kp_diff:.3g} input px"
    assert rounded_diff <= 3e-5, f"{name} decode, rounded log: max diff {rounded_diff:.3g} px"
    assert score_diff <= 1e-5, f"{name} decode: max score diff {score_diff:.3g}"
    # The dead channels that read a neighbour's corner peak moved, as MMPose's do.
    unrefined = -np.array([4 * w / (w - 1), 4 * h / (h - 1)])
    assert (np.abs(keypoints[-1, [0, 8]] - unrefined) > 0.1).any(axis=-1).all()


@pytest.mark.parametrize("index", range(len(UDP_DECODE)))
def test_udp_decode_noise_maps(reference, index):
    """Maps without a peak: DARK-UDP's Newton step is ill-conditioned there and numpy's log
    error alone moves MMPose's result by up to ~0.02 px. The argmax and scores are exact, and
    with a correctly rounded log MMPose lands within float32 rounding of kpose."""
    inputs, ref = reference
    (w, h), blur = UDP_DECODE[index]
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), blur_kernel_size=blur)
    name = f"UDP {w}x{h} blur {blur}"
    maps = inputs[f"noise_heatmaps_{w}x{h}"]
    keypoints, scores = _decode(codec, maps, compiled=False)
    np.testing.assert_array_equal(scores, ref[f"udp_noise_scores_{index}"])
    rounded_diff = float(np.abs(keypoints - ref[f"udp_noise_rounded_keypoints_{index}"]).max())
    numpy_diff = float(np.abs(keypoints - ref[f"udp_noise_numpy_keypoints_{index}"]).max())
    assert rounded_diff <= 3e-5, (
        f"{name} noise maps: max diff {rounded_diff:.3g} px with a rounded log, "
        f"{numpy_diff:.3g} px with numpy's"
    )


@pytest.mark.parametrize(("index", "compiled"), _with_xla(MEGVII), ids=_ids(_with_xla(MEGVII)))
def test_megvii_matches_mmpose(reference, index, compiled):
    """Encoding and decoding (of its own targets, peaked and noise maps) are exact."""
    inputs, ref = reference
    (w, h), k = MEGVII[index]
    codec = MegviiHeatmap((4 * w, 4 * h), (w, h), kernel_size=k)
    name = f"Megvii {w}x{h} kernel {k}"
    encode_key = f"megvii_encode_{index}"
    _check_encode(name, codec, inputs, ref, encode_key, f"megvii_weights_{index}", compiled)
    maps = [ref[encode_key]]
    maps += [255 * inputs[f"{kind}_heatmaps_{w}x{h}"] for kind in ("decode", "noise")]
    maps = np.concatenate(maps)
    keypoints, scores = _decode(codec, maps, compiled)
    expected, expected_scores = ref[f"megvii_keypoints_{index}"], ref[f"megvii_scores_{index}"]
    defined = _defined(maps, expected, expected_scores)
    kp_diff = _max_diff(keypoints, expected, defined)
    score_diff = _max_diff(scores, expected_scores, defined)
    assert kp_diff <= 1e-4, f"{name} decode: max keypoint diff {kp_diff:.3g} input px"
    assert score_diff <= 1e-5, f"{name} decode: max score diff {score_diff:.3g}"
    # MMPose's all-zero channels: (0, 0) with a NaN score; kpose: (-1, -1) * scale, 0.5.
    zero = maps.max(axis=(2, 3)) == 0
    np.testing.assert_array_equal(expected[zero], 0.0)
    np.testing.assert_array_equal(keypoints[zero], -4.0)


@pytest.mark.parametrize("size", HEATMAP_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kernel_size", BLUR_SIZES)
def test_blur_is_bit_exact(reference, size, kernel_size):
    inputs, ref = reference
    w, h = size
    maps = inputs[f"decode_heatmaps_{w}x{h}"][:4]
    np.testing.assert_array_equal(
        cv2_gaussian_blur(_nhwc(maps), kernel_size).numpy(),
        _nhwc(ref[f"cv2_{w}x{h}_{kernel_size}"]),
    )
    expected = _nhwc(ref[f"blur_{w}x{h}_{kernel_size}"])
    np.testing.assert_array_equal(
        gaussian_blur_exact(_nhwc(maps), kernel_size).numpy()[np.isfinite(expected)],
        expected[np.isfinite(expected)],
    )
