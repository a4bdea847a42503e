"""UDPHeatmap's combined targets (``heatmap_type="combined"``, the udp-regress recipes) against
MMPose 1.3.2: encode (targets and weights), decode (keypoints and scores), the
``flip_mode='udp_combined'`` flip test and ``CombinedTargetMSELoss``, all from one reference run.

Inputs are 4x the heatmap; 47 x 63 adds odd sizes. Tolerances: encode exact (the disc is a
float64 comparison, the offsets one float32 rounding), decode <= 1e-4 input px, scores <= 1e-6,
flip exact, loss relative 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from kpose.codecs import UDPHeatmap, flip_heatmaps, flip_test_average
from kpose.training.losses import combined_target_mse

pytestmark = pytest.mark.parity

K = 17
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
HEATMAP_SIZES = [(48, 64), (47, 63)]  # (w, h)
BLUR_SIZES = (11, 5)  # decoding blurs the discs with 2k + 1: 23 and 11

_REFERENCE = """
import torch
from mmpose.codecs import UDPHeatmap
from mmpose.models.losses.heatmap_loss import CombinedTargetMSELoss
from mmpose.models.utils.tta import flip_heatmaps

kps, vis = inputs["keypoints"], inputs["visible"]
for w, h in inputs["heatmap_sizes"]:
    w, h = int(w), int(h)
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), sigma=2.0, heatmap_type="combined")
    maps, weights = [], []
    for n in range(kps.shape[0]):
        out = codec.encode(kps[n:n + 1], vis[n:n + 1])
        maps.append(out["heatmaps"])
        weights.append(out["keypoint_weights"][0])
    outputs[f"encode_{w}x{h}"], outputs[f"weights_{w}x{h}"] = np.stack(maps), np.stack(weights)
    for blur in inputs["blur_sizes"]:
        codec = UDPHeatmap((4 * w, 4 * h), (w, h), heatmap_type="combined",
                           blur_kernel_size=int(blur))
        decoded, scores = [], []
        for m in inputs[f"decode_{w}x{h}"]:
            kp, sc = codec.decode(m.copy())
            decoded.append(kp[0])
            scores.append(sc[0])
        outputs[f"keypoints_{w}x{h}_{blur}"] = np.stack(decoded)
        outputs[f"scores_{w}x{h}_{blur}"] = np.stack(scores)

maps = torch.from_numpy(inputs["decode_48x64"][:4])
flipped = flip_heatmaps(maps.clone(), flip_indices=inputs["flip_indices"].tolist(),
                        flip_mode="udp_combined", shift_heatmap=False)
outputs["flipped"] = flipped.numpy()
outputs["fused"] = ((maps + flipped) * 0.5).numpy()
outputs["flipped_shifted"] = flip_heatmaps(
    maps.clone(), flip_indices=inputs["flip_indices"].tolist(), flip_mode="udp_combined",
    shift_heatmap=True).numpy()

loss = CombinedTargetMSELoss(use_target_weight=True)
pred = torch.from_numpy(inputs["loss_pred"])
target = torch.from_numpy(outputs["encode_48x64"][:6])
weights = torch.from_numpy(inputs["loss_weights"])
outputs["loss"] = np.array(float(loss(pred, target, weights)))
"""


def _keypoints(rng) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 2) input-pixel keypoints: random over and beyond the crop, integer and
    half-integer, on the borders, far off; visibilities around MMPose's 0.5 threshold."""
    rand = rng.uniform(-30, 290, size=(300, 2))
    ints = rng.integers(-10, 260, size=(60, 2)).astype(np.float64)
    halves = rng.integers(-10, 260, size=(40, 2)) + 0.5
    borders = np.array([[0, 0], [188, 252], [191, 255], [192, 256], [0, 255], [-1, 40]])
    far = np.array([[-1e4, 50], [50, -1e4], [1e5, 1e5]])
    points = rng.permutation(np.concatenate([rand, ints, halves, borders, far]))
    points = np.concatenate([points, rng.uniform(20, 150, size=((-len(points)) % K, 2))])
    keypoints = points.reshape(-1, K, 2).astype(np.float32)
    visible = rng.choice(
        np.array([0.0, 0.3, 0.49, 0.5, 1.0, 1.0, 1.0, 2.0], np.float32), size=keypoints.shape[:2]
    )
    return keypoints, visible


def _decode_maps(rng, w: int, h: int) -> np.ndarray:
    """(N, 3K, h, w) maps as a trained model gives them: noisy discs anywhere (also cut by the
    borders) with noisy offsets, and in the last instance dead discs (all <= 0), whose offsets
    MMPose reads at (-1, -1) of the K offset maps laid end to end."""
    n = 6
    maps = np.empty((n, K, 3, h, w), np.float32)
    xs, ys = np.arange(w), np.arange(h)[:, None]
    for i in range(n):
        for k in range(K):
            cx, cy = rng.uniform(-2, w + 1), rng.uniform(-2, h + 1)
            r = rng.uniform(2.5, 4.5)
            disc = ((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r).astype(np.float64)
            maps[i, k, 0] = 0.8 * disc + rng.uniform(-0.1, 0.1, size=(h, w))
            maps[i, k, 1] = (cx - xs) / r + rng.normal(0, 0.05, size=(h, w))
            maps[i, k, 2] = (cy - ys) / r + rng.normal(0, 0.05, size=(h, w))
    for k in (0, 4, 9):
        maps[-1, k, 0] = -rng.uniform(0.1, 1, size=(h, w))
    maps[-1, 12, 0] = -0.5  # flat and negative
    return maps.reshape(n, 3 * K, h, w)


def _nhwc(maps: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(maps.transpose(0, 2, 3, 1))


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    rng = np.random.default_rng(20260131)
    keypoints, visible = _keypoints(rng)
    inputs = {
        "keypoints": keypoints,
        "visible": visible,
        "heatmap_sizes": np.array(HEATMAP_SIZES, np.int64),
        "blur_sizes": np.array(BLUR_SIZES, np.int64),
        "flip_indices": np.array(COCO_FLIP),
        "loss_pred": rng.normal(0, 0.5, size=(6, 3 * K, 64, 48)).astype(np.float32),
        "loss_weights": rng.choice(np.array([0.0, 1.0, 1.0, 2.0], np.float32), size=(6, K)),
    }
    for w, h in HEATMAP_SIZES:
        inputs[f"decode_{w}x{h}"] = _decode_maps(rng, w, h)
    return inputs, mmpose_ref(_REFERENCE, **inputs)


@pytest.mark.parametrize("heatmap_size", HEATMAP_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_combined_encode_matches_mmpose(reference, heatmap_size):
    inputs, ref = reference
    w, h = heatmap_size
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), heatmap_type="combined")
    maps, weights = codec.encode(inputs["keypoints"], inputs["visible"])
    expected = _nhwc(ref[f"encode_{w}x{h}"])
    assert maps.shape == expected.shape == (len(inputs["keypoints"]), h, w, 3 * K)
    np.testing.assert_array_equal(maps.numpy(), expected)
    np.testing.assert_array_equal(weights.numpy(), ref[f"weights_{w}x{h}"])


@pytest.mark.parametrize("blur", BLUR_SIZES)
@pytest.mark.parametrize("heatmap_size", HEATMAP_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_combined_decode_matches_mmpose(reference, heatmap_size, blur):
    inputs, ref = reference
    w, h = heatmap_size
    codec = UDPHeatmap((4 * w, 4 * h), (w, h), heatmap_type="combined", blur_kernel_size=blur)
    keypoints, scores = codec.decode(_nhwc(inputs[f"decode_{w}x{h}"]))
    expected = ref[f"keypoints_{w}x{h}_{blur}"]
    diff = np.abs(keypoints.numpy() - expected).max()
    assert diff <= 1e-4, f"max |kpose - MMPose| = {diff} input px"
    np.testing.assert_allclose(scores.numpy(), ref[f"scores_{w}x{h}_{blur}"], rtol=0, atol=1e-6)


def test_udp_combined_flip_matches_mmpose(reference):
    inputs, ref = reference
    maps = _nhwc(inputs["decode_48x64"][:4])
    flipped = flip_heatmaps(maps, COCO_FLIP, shift_heatmap=False, flip_mode="udp_combined")
    np.testing.assert_array_equal(flipped.numpy(), _nhwc(ref["flipped"]))
    np.testing.assert_array_equal(flip_test_average(maps, flipped).numpy(), _nhwc(ref["fused"]))
    shifted = flip_heatmaps(maps, COCO_FLIP, shift_heatmap=True, flip_mode="udp_combined")
    np.testing.assert_array_equal(shifted.numpy(), _nhwc(ref["flipped_shifted"]))


def test_combined_target_mse_matches_mmpose(reference):
    inputs, ref = reference
    targets = _nhwc(ref["encode_48x64"][:6])
    loss = combined_target_mse(_nhwc(inputs["loss_pred"]), targets, inputs["loss_weights"])
    np.testing.assert_allclose(float(loss), float(ref["loss"]), rtol=1e-6)
