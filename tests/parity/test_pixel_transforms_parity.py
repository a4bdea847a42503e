"""The pixel transforms of the warped crop against MMPose 1.3.2 + albumentations 1.3.1, built
from MMPose's own configs (the HRNet-W32 CoarseDropout / GridMask / photometric configs and
CSPNeXt-m's Albumentation list): with the same parameters, kpose's pixels equal MMPose's on a
real COCO crop; over many draws, the sampled parameters follow the same distributions
(two-sample KS at p = 0.01, rates within three standard errors). One reference process."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import ks_2samp

from kpose.data import pixel_transforms as px
from kpose.geometry import reference
from kpose.geometry.boxes import bbox_xyxy_to_center_scale, fix_aspect_ratio
from kpose.recipe import recipe_from_dict
from tests.parity.mmpose_ref import BODY

COCO = BODY + "coco/"
CONFIGS = {
    "coarse": COCO + "td-hm_hrnet-w32_coarsedropout-8xb64-210e_coco-256x192.py",
    "grid": COCO + "td-hm_hrnet-w32_gridmask-8xb64-210e_coco-256x192.py",
    "photometric": COCO + "td-hm_hrnet-w32_photometric-8xb64-210e_coco-256x192.py",
    "cspnext": COCO + "cspnext-m_udp_8xb256-210e_coco-256x192.py",
}
INPUT = (192, 256)
DRAWS = 2000
# kpose's spelling of the same transforms (recipes/hrnet_w32_*_coco.yaml; CSPNeXt's list)
KPOSE = [
    {"type": "CoarseDropout", "max_holes": 8, "max_height": 40, "max_width": 40}
    | {"min_holes": 1, "min_height": 10, "min_width": 10, "p": 0.5},
    {"type": "GridDropout", "unit_size_min": 10, "unit_size_max": 40, "random_offset": True},
    {"type": "PhotometricDistortion"},
    {"type": "Blur", "p": 0.1},
    {"type": "MedianBlur", "p": 0.1},
    {"type": "CoarseDropout", "max_holes": 1, "max_height": 0.4, "max_width": 0.4}
    | {"min_holes": 1, "min_height": 0.2, "min_width": 0.2, "p": 1.0},
]
# Fixed photometric draws: contrast_mode, brightness, contrast, hsv_mode, swap; beta,
# contrast alpha, saturation alpha; hue delta; MMPose's BGR channel order
PHOTOMETRIC = [
    ([0, 1, 1, 0, 0], [23.7, 1.3, 1.0], 0, [0, 1, 2]),
    ([1, 1, 1, 1, 0], [-17.2, 0.71, 1.42], 0, [0, 1, 2]),
    ([1, 0, 1, 2, 1], [0.0, 1.37, 1.0], -15, [2, 0, 1]),
    ([0, 1, 0, 3, 1], [31.1, 1.0, 0.55], 17, [1, 2, 0]),
    ([1, 1, 1, 3, 1], [-30.5, 1.46, 0.62], -18, [1, 0, 2]),
]

_REFERENCE = """
import random
from mmengine.config import Config
from mmpose.datasets.transforms import Albumentation, PhotometricDistortion

def pipeline_step(config, name):
    cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, config))
    step = next(t for t in cfg.train_dataloader.dataset.pipeline if t["type"] == name)
    return {k: v for k, v in step.items() if k != "type"}

configs = json.loads(str(inputs["configs"]))
crop = inputs["crop_bgr"]
draws = int(inputs["draws"])
coarse = Albumentation(**pipeline_step(configs["coarse"], "Albumentation"))
grid = Albumentation(**pipeline_step(configs["grid"], "Albumentation"))
photometric = PhotometricDistortion(
    **pipeline_step(configs["photometric"], "PhotometricDistortion"))
cspnext = Albumentation(**pipeline_step(configs["cspnext"], "Albumentation"))

# (a) fixed parameters on the crop
outputs["coarse"] = coarse.aug.transforms[0].apply(crop, holes=[tuple(h) for h in inputs["holes"]])
random.seed(1)
grids, grid_holes = [], []
for i in range(4):
    t = grid.aug.transforms[0]
    holes = t.get_params_dependent_on_targets({"image": crop})["holes"]
    grids.append(t.apply(crop, holes=holes))
    grid_holes.append(holes[:2])
outputs["grid"] = np.stack(grids)
outputs["grid_holes"] = np.array(grid_holes)
photo = []
for flags, deltas, hue, order in json.loads(str(inputs["photometric"])):
    fixed = (flags[0], flags[1], flags[2], flags[3], flags[4], deltas[0], deltas[1],
             deltas[2], hue, np.array(order))
    photometric._random_flags = lambda fixed=fixed: fixed
    photo.append(photometric.transform({"img": crop.copy()})["img"])
del photometric._random_flags
outputs["photometric"] = np.stack(photo)
blur, median = cspnext.aug.transforms[0], cspnext.aug.transforms[1]
outputs["blur"] = np.stack([blur.apply(crop, ksize=k) for k in (3, 5, 7)])
outputs["median"] = np.stack([median.apply(crop, ksize=k) for k in (3, 5, 7)])

# (b) the parameters each transform draws, recorded while the wrappers run
def record(t, method):
    calls = []
    original = getattr(t, method)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(result)
        return result
    setattr(t, method, wrapped)
    return calls

random.seed(0)
np.random.seed(0)
blank = np.zeros_like(crop)
for name, wrapper in (("coarse", coarse), ("grid", grid)):
    calls = record(wrapper.aug.transforms[0], "get_params_dependent_on_targets")
    for _ in range(draws):
        wrapper.transform({"img": blank})
    # GridDropout: the first two holes (one column) give the unit, hole and offsets
    outputs[name + "_draws"] = [c["holes"][: 8 if name == "coarse" else 2] for c in calls]
methods = ("get_params", "get_params", "get_params_dependent_on_targets")
calls = [record(t, m) for t, m in zip(cspnext.aug.transforms, methods)]
for _ in range(draws):
    cspnext.transform({"img": blank})
outputs["blur_draws"] = [c["ksize"] for c in calls[0]]
outputs["median_draws"] = [c["ksize"] for c in calls[1]]
outputs["cspnext_coarse_draws"] = [c["holes"] for c in calls[2]]
flags = [photometric._random_flags() for _ in range(draws)]
outputs["photometric_flags"] = np.array([f[:5] for f in flags])
outputs["photometric_deltas"] = np.array([f[5:8] for f in flags])
outputs["photometric_hue"] = np.array([f[8] for f in flags])
outputs["photometric_order"] = np.array([f[9] for f in flags])
"""


def _rgb_from_bgr_order(order) -> list[int]:
    """MMPose's channel permutation of a BGR image as the permutation of the RGB image."""
    return [2 - order[2 - j] for j in range(3)]


@pytest.fixture(scope="module")
def crop(samples):
    """A real COCO person crop, as MMPose's TopdownAffine cuts it (RGB uint8 256x192)."""
    image = cv2.cvtColor(cv2.imread(str(samples / "coco/000000196141.jpg")), cv2.COLOR_BGR2RGB)
    center, scale = bbox_xyxy_to_center_scale(np.array([247.76, 74.23, 417.43, 375.01]), 1.25)
    scale = fix_aspect_ratio(scale, INPUT[0] / INPUT[1])
    return reference.topdown_affine(image, center, scale, 0.0, INPUT)[0]


@pytest.fixture(scope="module")
def kpose_draws():
    """DRAWS instances' parameters of each transform in KPOSE (one tf.data pass)."""
    transforms = recipe_from_dict({"data": {"pixel_transforms": KPOSE}}).data.pixel_transforms
    ds = tf.data.Dataset.range(DRAWS).map(
        lambda i: px.sample_pixel_params(
            transforms, tf.stack([tf.constant(1, tf.int64), i]), INPUT
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return tf.nest.map_structure(lambda x: x.numpy(), next(iter(ds.batch(DRAWS))))


@pytest.fixture(scope="module")
def ref(mmpose_ref, crop):
    rng = np.random.default_rng(0)
    sizes = rng.integers(10, 41, (8, 2))
    corners = rng.integers(0, [INPUT[0] - 40, INPUT[1] - 40], (8, 2))
    holes = np.concatenate([corners, corners + sizes], -1)  # x1, y1, x2, y2
    photometric = [[f, d, h, o] for f, d, h, o in PHOTOMETRIC]
    out = mmpose_ref(
        _REFERENCE,
        configs=np.array(json.dumps(CONFIGS)),
        crop_bgr=crop[..., ::-1].copy(),
        draws=DRAWS,
        holes=holes,
        photometric=np.array(json.dumps(photometric)),
    )
    out["holes"] = holes
    return out


def _assert_pixels(ours, theirs_bgr, label, tol=0):
    theirs = np.asarray(theirs_bgr)[..., ::-1].astype(np.float32)
    diff = np.abs(np.asarray(ours, np.float32) - theirs)
    print(f"\n{label}: max |diff| {diff.max():g} grey levels, {(diff > 0).mean():.2%} of pixels")
    assert diff.max() <= tol, label


def test_fixed_parameters_give_mmpose_pixels(crop, ref):
    images = tf.constant(crop[None], tf.float32)
    holes = tf.constant(ref["holes"][None], tf.int32)
    _assert_pixels(px.coarse_dropout(images, holes)[0], ref["coarse"], "CoarseDropout")
    for i, pair in enumerate(ref["grid_holes"]):
        (x1, y1, x2, _), (_, y1_next, _, _) = pair  # the first two holes of one column
        params = {
            "apply": tf.constant([True]),
            "unit": tf.constant([[y1_next - y1, y1_next - y1]]),
            "hole": tf.constant([[x2 - x1, x2 - x1]]),
            "shift": tf.constant([[x1, y1]]),
        }
        _assert_pixels(px.grid_dropout(images, params)[0], ref["grid"][i], f"GridDropout {i}")
    for i, (flags, deltas, hue, order) in enumerate(PHOTOMETRIC):
        params = {
            "flags": tf.constant([flags]),
            "deltas": tf.constant([deltas], tf.float32),
            "hue_delta": tf.constant([hue]),
            "channel_order": tf.constant([_rgb_from_bgr_order(order)]),
        }
        ours = px.photometric_distortion(images, params)[0]
        # OpenCV's x86 HSV <-> BGR is matched bit for bit; one grey level for other builds
        _assert_pixels(ours, ref["photometric"][i], f"PhotometricDistortion {flags}", tol=1)
    for i, k in enumerate((3, 5, 7)):
        _assert_pixels(px.box_blur(images[0], k), ref["blur"][i], f"Blur {k}")
        _assert_pixels(px.median_blur(images[0], k), ref["median"][i], f"MedianBlur {k}")


def _same_law(ours, theirs, label):
    ours, theirs = np.asarray(ours, float).ravel(), np.asarray(theirs, float).ravel()
    p = ks_2samp(ours, theirs).pvalue
    print(f"{label}: KS p = {p:.3f} ({len(ours)} / {len(theirs)} draws)")
    assert p > 0.01, label


def _same_rate(ours, theirs, label):
    p1, p2 = np.mean(ours), np.mean(theirs)
    pooled = (np.sum(ours) + np.sum(theirs)) / (len(ours) + len(theirs))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(ours) + 1 / len(theirs)))
    print(f"{label}: rate {p1:.4f} / {p2:.4f} (3 SE {3 * se:.4f})")
    assert abs(p1 - p2) <= 3 * se + 1e-12, label


def _holes(draws) -> np.ndarray:
    return np.array([h for holes in draws for h in holes], float).reshape(-1, 4)


def test_coarse_dropout_draws_follow_albumentations(kpose_draws, ref):
    for index, key in ((0, "coarse_draws"), (5, "cspnext_coarse_draws")):
        holes = kpose_draws[index]["holes"]  # (N, max_holes, 4), unused holes empty
        used = holes[..., 2] > holes[..., 0]
        theirs = ref[key]
        _same_rate(used.any(-1), np.arange(DRAWS) < len(theirs), f"{key} applied")
        applied = used.any(-1)
        _same_law(used.sum(-1)[applied], [len(h) for h in theirs], f"{key} hole count")
        ours, their_holes = holes[used].astype(float), _holes(theirs)
        for j, name in enumerate(("x1", "y1")):
            _same_law(ours[:, j], their_holes[:, j], f"{key} {name}")
        _same_law(ours[:, 2] - ours[:, 0], their_holes[:, 2] - their_holes[:, 0], f"{key} width")
        _same_law(ours[:, 3] - ours[:, 1], their_holes[:, 3] - their_holes[:, 1], f"{key} height")


def test_grid_dropout_draws_follow_albumentations(kpose_draws, ref):
    p = kpose_draws[1]
    theirs = [np.array(h, float) for h in ref["grid_draws"]]
    _same_rate(p["apply"], np.arange(DRAWS) < len(theirs), "GridDropout applied")
    unit = np.array([h[1, 1] - h[0, 1] for h in theirs])  # the first column's y step
    applied = p["apply"]
    _same_law(p["unit"][applied, 0], unit, "GridDropout unit")
    assert np.all(p["unit"][:, 0] == p["unit"][:, 1])
    _same_law(p["shift"][applied, 0], [h[0, 0] for h in theirs], "GridDropout shift_x")
    _same_law(p["shift"][applied, 1], [h[0, 1] for h in theirs], "GridDropout shift_y")
    _same_law(p["hole"][applied, 0], [h[0, 2] - h[0, 0] for h in theirs], "GridDropout hole")


def test_blur_draws_follow_albumentations(kpose_draws, ref):
    for index, key in ((3, "blur_draws"), (4, "median_draws")):
        kernel = kpose_draws[index]["kernel"]  # 0: not applied, i: the i-th of 3, 5, 7
        theirs = ref[key]
        _same_rate(kernel > 0, np.arange(DRAWS) < len(theirs), f"{key} applied")
        _same_law(1 + 2 * kernel[kernel > 0], theirs, f"{key} kernel size")


def test_photometric_draws_follow_mmpose(kpose_draws, ref):
    p = kpose_draws[2]
    names = ("contrast_mode", "brightness", "contrast", "hsv_mode", "swap")
    for j, name in enumerate(names):
        for value in np.unique(ref["photometric_flags"][:, j]):
            ours, theirs = p["flags"][:, j] == value, ref["photometric_flags"][:, j] == value
            _same_rate(ours, theirs, f"{name} == {value}")
    for j, name in enumerate(("brightness beta", "contrast alpha", "saturation alpha")):
        _same_law(p["deltas"][:, j], ref["photometric_deltas"][:, j], name)
    _same_law(p["hue_delta"], ref["photometric_hue"], "hue delta")
    assert p["hue_delta"].min() == -18 and p["hue_delta"].max() == 17
    theirs = [tuple(_rgb_from_bgr_order(o)) for o in ref["photometric_order"]]
    ours = [tuple(o) for o in p["channel_order"]]
    for order in sorted(set(theirs)):
        _same_rate([o == order for o in ours], [o == order for o in theirs], f"order {order}")
