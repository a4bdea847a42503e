"""A synthetic COCO-format person keypoint dataset, generated on the fly for the quickstart.

Each image holds 1-4 front-facing articulated figures with the 17 COCO keypoints over a
cluttered, textured background. Limbs are shaded capsules; the figure's left limbs carry a
bright stripe along their axis so that left and right can be told apart (a front-facing
person's left side is on the image's right). Figures are 40-400 px tall, rotated in the image
plane, overlap each other (painted back to front) and are cut by the image borders.

Visibility follows COCO: 0 = not labeled (outside the image, stored as 0, 0), 1 = labeled but
covered by a figure painted later, 2 = visible. Boxes and areas come from each figure's visible
pixels, as COCO's come from the visible segmentation. A figure that is mostly covered is left
unannotated, like the unlabeled people of a real crowd. ``convert_synthetic`` writes a
generated split as TFRecords; ``ensure_synthetic_data`` generates the splits a recipe's
``data.synthetic`` section asks for when its data root lacks them.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from kpose.data.metainfo import get_dataset_info

log = logging.getLogger(__name__)

_INFO = get_dataset_info("coco")
KEYPOINT_NAMES = _INFO.keypoint_names
_K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Segment lengths and widths as fractions of the figure's height H (ankle to head top ~ H).
_TORSO, _NECK, _HEAD_R = 0.30, 0.10, 0.068
_SHOULDER_HALF, _HIP_HALF = 0.115, 0.08
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.16, 0.145, 0.225, 0.22
_ARM_W, _LEG_W = 0.07, 0.09


@dataclass
class Figure:
    """One rendered figure: keypoints (17, 2) in image pixels and its label in the mask."""

    keypoints: np.ndarray
    label: int
    drawn_pixels: int = 0


def _rot(v: np.ndarray, degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def sample_pose(rng: np.random.Generator) -> np.ndarray:
    """17 COCO keypoints of a unit-height, upright, front-facing figure (pelvis at 0, y down).

    The figure's left side is at +x (the viewer's right).
    """
    kp = np.zeros((17, 2))
    down = np.array([0.0, 1.0])
    lean = rng.normal(0.0, 8.0)
    up = _rot(-down, lean)
    side = _rot(np.array([1.0, 0.0]), lean)  # towards the figure's left
    neck = up * _TORSO
    for s, name in ((1, "left"), (-1, "right")):
        hip = side * _HIP_HALF * s
        kp[_K[f"{name}_hip"]] = hip
        # Legs: thigh swings outwards (positive) or crosses a little; the knee bends either way.
        thigh = _rot(down, -s * rng.uniform(-15.0, 50.0) + lean * 0.5)
        knee = hip + thigh * _THIGH * rng.uniform(0.85, 1.05)
        kp[_K[f"{name}_knee"]] = knee
        shin = _rot(thigh, rng.choice([-1.0, 1.0]) * rng.uniform(0.0, 90.0))
        kp[_K[f"{name}_ankle"]] = knee + shin * _SHIN * rng.uniform(0.85, 1.05)
        shoulder = neck + side * _SHOULDER_HALF * s
        kp[_K[f"{name}_shoulder"]] = shoulder
        # Arms: abduction from hanging down to raised overhead; elbows bend freely.
        upper = _rot(down, -s * rng.uniform(-20.0, 170.0) + lean)
        elbow = shoulder + upper * _UPPER_ARM * rng.uniform(0.85, 1.05)
        kp[_K[f"{name}_elbow"]] = elbow
        fore = _rot(upper, rng.uniform(-150.0, 150.0))
        kp[_K[f"{name}_wrist"]] = elbow + fore * _FOREARM * rng.uniform(0.85, 1.05)
    tilt = lean + rng.normal(0.0, 10.0)
    head = neck + _rot(-down, tilt) * (_NECK + _HEAD_R * 0.6)
    yaw = rng.uniform(-0.3, 0.3)  # turns the face a little: features shift sideways
    face = lambda dx, dy: head + _rot(np.array([dx + yaw * _HEAD_R * 0.5, dy]), tilt)  # noqa: E731
    kp[_K["nose"]] = face(0.0, 0.25 * _HEAD_R)
    kp[_K["left_eye"]] = face(0.38 * _HEAD_R, -0.15 * _HEAD_R)
    kp[_K["right_eye"]] = face(-0.38 * _HEAD_R, -0.15 * _HEAD_R)
    kp[_K["left_ear"]] = head + _rot(np.array([(1.0 - abs(yaw) * 0.3) * _HEAD_R, 0.0]), tilt)
    kp[_K["right_ear"]] = head + _rot(np.array([-(1.0 - abs(yaw) * 0.3) * _HEAD_R, 0.0]), tilt)
    return kp


def _color(rng: np.random.Generator, lo: int = 20, hi: int = 235) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))


def _shade(color, factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in color)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Gradient + coarse noise texture + random shapes and lines."""
    small = rng.integers(0, 256, (rng.integers(3, 12), rng.integers(3, 12), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(15, 45)):
        kind = rng.integers(0, 5)
        color = _color(rng, 0, 256)
        p = rng.integers(-20, max(width, height) + 20, 2)
        size = int(rng.integers(4, max(width, height) // 4))
        if kind == 0:
            q = p + rng.integers(-size, size, 2)
            cv2.rectangle(image, tuple(map(int, p)), tuple(map(int, q)), color, -1)
        elif kind == 1:
            cv2.circle(image, tuple(map(int, p)), size // 2, color, -1)
        elif kind == 2:
            q = p + rng.integers(-size * 2, size * 2, 2)
            cv2.line(image, tuple(map(int, p)), tuple(map(int, q)), color, int(rng.integers(1, 8)))
        elif kind == 3:
            pts = (p + rng.integers(-size, size, (rng.integers(3, 6), 2))).astype(np.int32)
            cv2.fillPoly(image, [pts], color)
        else:
            axes = (size // 2, int(rng.integers(2, size // 2 + 3)))
            cv2.ellipse(
                image, tuple(map(int, p)), axes, float(rng.uniform(0, 180)), 0, 360, color, -1
            )
    return image


def _capsule(image, mask, label, a, b, width, color, stripe=None) -> None:
    """A limb: dark outline, body colour, light highlight; optional bright centre stripe."""
    a, b = tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b)
    w = max(int(round(width)), 2)
    cv2.line(mask, a, b, label, w + 2)
    cv2.line(image, a, b, _shade(color, 0.55), w + 2, cv2.LINE_AA)
    cv2.line(image, a, b, color, max(w - 1, 1), cv2.LINE_AA)
    cv2.line(image, a, b, _shade(color, 1.3), max(w // 3, 1), cv2.LINE_AA)
    if stripe is not None:
        cv2.line(image, a, b, stripe, max(w // 4, 1), cv2.LINE_AA)


def _disc(image, mask, label, center, radius, color, outline=True) -> None:
    c = tuple(int(round(v)) for v in center)
    r = max(int(round(radius)), 1)
    cv2.circle(mask, c, r + 1, label, -1)
    if outline:
        cv2.circle(image, c, r + 1, _shade(color, 0.55), -1, cv2.LINE_AA)
    cv2.circle(image, c, r, color, -1, cv2.LINE_AA)


def draw_figure(
    image: np.ndarray,
    mask: np.ndarray,
    label: int,
    kp: np.ndarray,
    height: float,
    rng: np.random.Generator,
) -> None:
    """Paint one figure (keypoints in image pixels, figure height in pixels) and its mask."""
    skin = _shade((205, 170, 140), rng.uniform(0.45, 1.15))
    shirt, pants = _color(rng), _color(rng)
    stripe = _color(rng, 0, 256)
    if np.abs(np.subtract(stripe, shirt)).sum() < 150:  # keep the left-side stripe visible
        stripe = tuple(255 - c for c in shirt)
    k = _K

    def limb(a, b, w, color, left):
        _capsule(
            image, mask, label, kp[k[a]], kp[k[b]], w * height, color, stripe if left else None
        )

    for side in ("left", "right"):
        left = side == "left"
        limb(f"{side}_hip", f"{side}_knee", _LEG_W, pants, left)
        limb(f"{side}_knee", f"{side}_ankle", _LEG_W * 0.85, pants, left)
        foot = kp[k[f"{side}_ankle"]] + np.array([0.035 if left else -0.035, 0.02]) * height
        _capsule(
            image, mask, label, kp[k[f"{side}_ankle"]], foot, 0.045 * height, _shade(pants, 0.4)
        )
    neck = (kp[k["left_shoulder"]] + kp[k["right_shoulder"]]) / 2
    torso = np.array(
        [kp[k["left_shoulder"]], kp[k["right_shoulder"]], kp[k["right_hip"]], kp[k["left_hip"]]]
    )
    centre = torso.mean(0)
    torso = centre + (torso - centre) * np.array([1.3, 1.08])  # a little wider than joints
    pts = np.round(torso).astype(np.int32)
    cv2.fillConvexPoly(mask, pts, label)
    cv2.fillConvexPoly(image, pts, _shade(shirt, 0.55), cv2.LINE_AA)
    inner = np.round(centre + (torso - centre) * 0.9).astype(np.int32)
    cv2.fillConvexPoly(image, inner, shirt, cv2.LINE_AA)
    if rng.random() < 0.5:  # a print on the shirt
        _disc(
            image,
            mask,
            label,
            centre + rng.normal(0, 0.02, 2) * height,
            rng.uniform(0.015, 0.04) * height,
            _color(rng),
            outline=False,
        )
    head = (kp[k["left_ear"]] + kp[k["right_ear"]]) / 2
    _capsule(image, mask, label, neck, head, 0.06 * height, skin)
    for side in ("left", "right"):
        left = side == "left"
        limb(f"{side}_shoulder", f"{side}_elbow", _ARM_W, shirt, left)
        limb(f"{side}_elbow", f"{side}_wrist", _ARM_W * 0.8, skin, left)
        _disc(image, mask, label, kp[k[f"{side}_wrist"]], 0.028 * height, skin)
    r = _HEAD_R * height
    hair = _color(rng, 0, 120)
    _disc(image, mask, label, head - (kp[k["nose"]] - head) * 0.45, r * 1.02, hair)
    for side in ("left", "right"):
        _disc(image, mask, label, kp[k[f"{side}_ear"]], r * 0.28, _shade(skin, 0.85))
    _disc(image, mask, label, head, r, skin)
    for side in ("left", "right"):
        eye = kp[k[f"{side}_eye"]]
        _disc(image, mask, label, eye, r * 0.2, (245, 245, 245), outline=False)
        _disc(image, mask, label, eye, r * 0.1, (20, 20, 20), outline=False)
    nose = kp[k["nose"]]
    _disc(image, mask, label, nose, r * 0.12, _shade(skin, 0.6), outline=False)


def render_image(rng: np.random.Generator, image_size: tuple[int, int] = (384, 384)):
    """One image: (H, W, 3) uint8 BGR, its label mask (0 = background, i + 1 = figure i),
    and the figures in painting order (back to front)."""
    width, height = image_size
    image = _background(rng, width, height)
    mask = np.zeros((height, width), np.uint8)
    figures = []
    for i in range(int(rng.integers(1, 5))):
        h = float(np.exp(rng.uniform(np.log(40.0), np.log(400.0))))
        pose = sample_pose(rng)
        angle = rng.uniform(-30.0, 30.0) if rng.random() < 0.85 else rng.uniform(-90.0, 90.0)
        t = np.deg2rad(angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        # The pelvis may sit a little past the border: figures get cut by the image edges.
        centre = rng.uniform(-0.1 * h, [width + 0.1 * h, height + 0.1 * h])
        kp = pose @ rot.T * h + centre
        label = i + 1
        draw_figure(image, mask, label, kp, h, rng)
        figures.append(Figure(kp, label, int(np.count_nonzero(mask == label))))
    noise = rng.normal(0.0, rng.uniform(2.0, 5.0), image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return image, mask, figures


def annotate(
    mask: np.ndarray, figures: list[Figure], min_visible: float = 0.3, min_area: int = 48
) -> list[dict]:
    """COCO annotations (without ids) for the figures that are visible enough."""
    height, width = mask.shape
    anns = []
    for fig in figures:
        ys, xs = np.nonzero(mask == fig.label)
        area = len(xs)
        if area < min_area or area < min_visible * max(fig.drawn_pixels, 1):
            continue
        kps = np.zeros((17, 3))
        for j, (x, y) in enumerate(fig.keypoints):
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                continue
            kps[j] = (x, y, 2 if mask[min(yi, height - 1), min(xi, width - 1)] == fig.label else 1)
        labeled = int(np.count_nonzero(kps[:, 2]))
        if labeled == 0:
            continue
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        anns.append(
            {
                "category_id": 1,
                "keypoints": [round(float(v), 2) for v in kps.reshape(-1)],
                "num_keypoints": labeled,
                "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                "area": float(area),
                "iscrowd": 0,
            }
        )
    return anns


def _render_files(
    image_dir: str, seed: int, indices: range, image_size: tuple[int, int]
) -> list[list[dict]]:
    """Render and write images ``indices``; their annotations, one list per image."""
    out = []
    for i in indices:
        rng = np.random.default_rng([seed, i])
        image, mask, figures = render_image(rng, image_size)
        cv2.imwrite(
            str(Path(image_dir) / _file_name(seed, i)), image, [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        out.append(annotate(mask, figures))
    return out


def _file_name(seed: int, i: int) -> str:
    return f"{seed:04d}_{i:06d}.jpg"


def generate(
    out_dir: str | Path,
    num_images: int,
    seed: int,
    *,
    image_size: tuple[int, int] = (384, 384),
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Write ``num_images`` JPEGs to ``out_dir/images`` and ``out_dir/annotations.json``.

    Image ``i`` depends only on ``(seed, i)``, so the result is the same for any number of
    worker processes (default: one per CPU). Returns the annotation file's path.
    """
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, num_images // 200 or 1))
    chunk = 100
    jobs = [range(start, min(start + chunk, num_images)) for start in range(0, num_images, chunk)]
    bar = tqdm(total=num_images, desc=f"synthetic (seed {seed})", unit="img", disable=not progress)
    per_image: list[list[dict]] = []
    if workers == 1:
        for job in jobs:
            per_image += _render_files(str(image_dir), seed, job, image_size)
            bar.update(len(job))
    else:
        # spawn, not fork: the parent may already run TensorFlow's threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(_render_files, str(image_dir), seed, job, image_size) for job in jobs
            ]
            for job, future in zip(jobs, futures, strict=True):
                per_image += future.result()
                bar.update(len(job))
    bar.close()
    images, annotations = [], []
    for i, anns in enumerate(per_image):
        images.append(
            {
                "id": i + 1,
                "file_name": _file_name(seed, i),
                "width": image_size[0],
                "height": image_size[1],
            }
        )
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **ann})
    categories = [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(KEYPOINT_NAMES),
            "skeleton": [[a + 1, b + 1] for a, b in _INFO.skeleton],
        }
    ]
    path = out_dir / "annotations.json"
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


def convert_synthetic(
    out: str | Path,
    *,
    images: int,
    seed: int,
    split: str = "train",
    shards: int = 4,
    progress: bool = True,
) -> dict:
    """Generate a synthetic COCO-format split under ``out/raw-<split>`` and convert it."""
    # Imported here, not at the top: the rendering workers import this module, and the
    # converter would bring TensorFlow into every one of them.
    from kpose.data.formats.coco import convert_coco

    raw = Path(out) / f"raw-{split}"
    ann = generate(raw, images, seed, progress=progress)
    return convert_coco(
        ann, raw / "images", out, split=split, dataset="synthetic", shards=shards, progress=progress
    )


def ensure_synthetic_data(recipe, progress: bool = True) -> None:
    """Generate the recipe's synthetic splits (``data.synthetic``) that ``data.root`` lacks."""
    from kpose.data.records import META_FILE, read_meta, summary_lines

    syn, root = recipe.data.synthetic, Path(recipe.data.root)
    if syn is None:
        return
    have = read_meta(root).get("splits", {}) if (root / META_FILE).is_file() else {}
    for split, images, seed in (
        (recipe.data.train_split, syn.train_images, syn.train_seed),
        (recipe.data.val_split, syn.val_images, syn.val_seed),
    ):
        if split in have:
            continue
        log.info(
            "generating synthetic %s split: %d images, seed %d -> %s", split, images, seed, root
        )
        entry = convert_synthetic(
            root, images=images, seed=seed, split=split, shards=syn.shards, progress=progress
        )
        log.info("%s", "\n".join(summary_lines(split, entry)))
