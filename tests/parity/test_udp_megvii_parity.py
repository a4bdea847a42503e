"""UDPHeatmap and MegviiHeatmap encode/decode against MMPose 1.3.2's codecs.

Keypoints cover invisible ones, points on and beyond the borders and sub-pixel positions;
decode inputs are encoded maps, noisy maps and maps with ties. All-zero channels are left out
of the coordinate comparison: MMPose returns NaN there (0 / 0 in its blur), kpose the (-1, -1)
location its other codecs use.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.codecs import MegviiHeatmap, UDPHeatmap

pytestmark = pytest.mark.parity

HEATMAPS = [(48, 64), (64, 64)]  # (w, h); inputs are 4x
UDP_CASES = [(hm, sigma, blur) for hm in HEATMAPS for sigma, blur in ((2.0, 11), (3.0, 17),
                                                                      (2.0, 3), (2.0, 7))]
MEGVII_CASES = [(hm, k) for hm in HEATMAPS for k in (15, 11, 9, 7, 5)]

_REFERENCE = """
from mmpose.codecs import MegviiHeatmap, UDPHeatmap

def run(codec, kps, vis, maps):
    enc, wts, dec, sc = [], [], [], []
    for n in range(kps.shape[0]):
        out = codec.encode(kps[n:n + 1], vis[n:n + 1])
        enc.append(out["heatmaps"]); wts.append(out["keypoint_weights"][0])
    with np.errstate(all="ignore"):
        for n in range(maps.shape[0]):
            k, s = codec.decode(maps[n].copy())
            dec.append(k[0]); sc.append(s[0])
    return np.stack(enc), np.stack(wts), np.stack(dec), np.stack(sc)

for i, (w, h, sigma, blur) in enumerate(json.loads(str(inputs["udp"]))):
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), sigma=sigma, blur_kernel_size=blur)
    out = run(codec, inputs[f"kps_{w}x{h}"], inputs[f"vis_{w}x{h}"], inputs[f"maps_{w}x{h}"])
    for name, value in zip(("enc", "wts", "dec", "sc"), out):
        outputs[f"udp{i}_{name}"] = value
for i, (w, h, k) in enumerate(json.loads(str(inputs["megvii"]))):
    codec = MegviiHeatmap((4 * w, 4 * h), (w, h), kernel_size=k)
    maps = inputs[f"maps_{w}x{h}"] * 255.0
    out = run(codec, inputs[f"kps_{w}x{h}"], inputs[f"vis_{w}x{h}"], maps)
    for name, value in zip(("enc", "wts", "dec", "sc"), out):
        outputs[f"megvii{i}_{name}"] = value
"""


def _keypoints(rng, w: int, h: int, n: int = 24, k: int = 17):
    iw, ih = 4 * w, 4 * h
    kps = rng.uniform([-0.1 * iw, -0.1 * ih], [1.1 * iw, 1.1 * ih], (n, k, 2))
    kps[:, :3] = [[0, 0], [iw - 1, ih - 1], [iw, ih]]  # corners and just beyond
    kps[:, 3] = [-30.0, 20.0]  # far off, window still reaching in for big sigmas
    kps[1, 4:8] = np.round(kps[1, 4:8])  # integer positions
    vis = (rng.random((n, k)) > 0.15).astype(np.float32)
    return kps.astype(np.float32), vis


def _maps(rng, w: int, h: int, kps, vis):
    """Decode inputs (N, K, h, w) in MMPose's layout: encodings, noise, ties, zero maps."""
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), sigma=2.0)
    maps = np.transpose(codec.encode(kps, np.ones_like(vis))[0].numpy(), (0, 3, 1, 2))
    # Noise on a third of the maps that hold a whole peak. A cut-off peak under noise leaves a
    # nearly flat log-map, where DARK-UDP's Newton step amplifies float32 rounding of the blur
    # (cv2's vs TF's summation order) by orders of magnitude: not a property to compare.
    peaked = maps.reshape(*maps.shape[:2], -1).max(-1) > 0.5
    noisy = peaked & (rng.random(maps.shape[:2]) < 0.3)
    maps = maps + rng.normal(0, 0.05, maps.shape).astype(np.float32) * noisy[..., None, None]
    maps[0, 5] = 0.0
    maps[0, 5, 10, 10] = maps[0, 5, 10, 20] = 1.0  # a tie: the first maximum wins
    maps[0, 6] = 0.0  # an all-zero channel
    return np.clip(maps, 0, None).astype(np.float32)


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    rng = np.random.default_rng(0)
    arrays = {}
    for w, h in HEATMAPS:
        kps, vis = _keypoints(rng, w, h)
        arrays.update({f"kps_{w}x{h}": kps, f"vis_{w}x{h}": vis,
                       f"maps_{w}x{h}": _maps(rng, w, h, kps, vis)})
    udp = [[w, h, s, b] for (w, h), s, b in UDP_CASES]
    megvii = [[w, h, k] for (w, h), k in MEGVII_CASES]
    return arrays, mmpose_ref(_REFERENCE, udp=json.dumps(udp), megvii=json.dumps(megvii),
                              **arrays)


def _compare(codec, arrays, ref, prefix, w, h, scale=1.0):
    kps, vis = arrays[f"kps_{w}x{h}"], arrays[f"vis_{w}x{h}"]
    maps = arrays[f"maps_{w}x{h}"] * np.float32(scale)
    heatmaps, weights = codec.encode(kps, vis)
    enc = np.transpose(heatmaps.numpy(), (0, 3, 1, 2)) / scale
    enc_diff = float(np.abs(enc - ref[f"{prefix}_enc"] / scale).max())
    assert enc_diff <= 1e-6, f"{prefix} encode: max diff {enc_diff}"
    np.testing.assert_array_equal(weights.numpy(), ref[f"{prefix}_wts"])
    keypoints, scores = codec.decode(np.transpose(maps, (0, 2, 3, 1)))
    live = maps.reshape(*maps.shape[:2], -1).max(-1) > 0  # (N, K)
    # Compared in heatmap pixels (input pixels / 4). The largest differences sit on peaks cut
    # by the map's border, where the log-map is nearly flat (see _maps): ~6e-5 heatmap px.
    kp_diff = float((np.abs(keypoints.numpy() - ref[f"{prefix}_dec"]) / 4.0)[live].max())
    sc_diff = float(np.abs(scores.numpy() - ref[f"{prefix}_sc"])[live].max())
    assert kp_diff <= 1e-4, f"{prefix} decode: max keypoint diff {kp_diff} heatmap px"
    assert sc_diff <= 1e-5, f"{prefix} decode: max score diff {sc_diff}"
    return enc_diff, kp_diff, sc_diff


@pytest.mark.parametrize("case", range(len(UDP_CASES)))
def test_udp_equals_mmpose(case, reference):
    arrays, ref = reference
    (w, h), sigma, blur = UDP_CASES[case]
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), sigma=sigma, blur_kernel_size=blur)
    _compare(codec, arrays, ref, f"udp{case}", w, h)


@pytest.mark.parametrize("case", range(len(MEGVII_CASES)))
def test_megvii_equals_mmpose(case, reference):
    arrays, ref = reference
    (w, h), k = MEGVII_CASES[case]
    codec = MegviiHeatmap((4 * w, 4 * h), (w, h), kernel_size=k)
    _compare(codec, arrays, ref, f"megvii{case}", w, h, scale=255.0)
