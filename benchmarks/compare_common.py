"""What both sides of ``benchmarks/compare.py`` share: the window protocol of a worker process
and the generated inputs. Standard library and NumPy only: the MMPose side imports this module
in the reference virtualenv, which has neither TensorFlow nor kpose.

A worker builds one workload, prints ``ready {json}`` and then serves windows: each stdin line
is ``{"config": {...}, "seconds": s}``; the first window of a new config is preceded by an
untimed warm-up step, then steps run until ``s`` seconds have passed (at least one) and the
worker prints ``{"units", "wall", "cpu", "peak_rss_mb"}``: work done, wall-clock seconds, CPU
seconds of the whole process (every thread) and the process's peak resident memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

# The COCO heatmap codec of the evaluation workload: MSRAHeatmap 192x256 -> 48x64, sigma 2.
EVAL_INPUT_SIZE = (192, 256)
EVAL_HEATMAP_SIZE = (48, 64)
EVAL_UNIQUE = 500  # distinct heatmap pairs; instance i uses pair i % EVAL_UNIQUE
COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serve(workload) -> None:
    """Run ``workload`` (``.info``, ``.step(config) -> units``, optionally
    ``.prepare(config)``) as a worker of the window protocol over stdin/stdout."""
    info = {**getattr(workload, "info", {}), "rss_at_ready_mb": peak_rss_mb()}
    print("ready " + json.dumps(info), flush=True)
    prepared = set()
    for line in sys.stdin:
        request = json.loads(line)
        config, seconds = request["config"], float(request["seconds"])
        key = json.dumps(config, sort_keys=True)
        if key not in prepared:
            if hasattr(workload, "prepare"):
                workload.prepare(config)
            workload.step(config)  # warm-up: traces, compiles, caches
            prepared.add(key)
        units, steps = 0.0, 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while steps == 0 or time.perf_counter() - wall0 < seconds:
            units += workload.step(config)
            steps += 1
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        row = {"units": units, "steps": steps, "wall": wall, "cpu": cpu}
        if getattr(workload, "last", None):
            row["last"] = workload.last
        print(json.dumps({**row, "peak_rss_mb": peak_rss_mb()}), flush=True)


def eval_ground_truth(num_instances: int, per_image: int = 5, seed: int = 0):
    """A COCO keypoint ground truth of ``num_instances`` people (``per_image`` per image) and,
    for the codec's decode, ``EVAL_UNIQUE`` pairs of heatmaps (the crop and its mirror) whose
    peaks sit near each person's keypoints: ``(coco_dict, heatmaps (2, U, K, h, w) float32,
    centers (N, 2), scales (N, 2))``. Person ``i``'s crop is box ``i`` padded 1.25 to the input
    aspect ratio; its keypoints are pair ``i % U``'s peaks mapped to the image, plus noise,
    so AP is high but not 1."""
    rng = np.random.default_rng(seed)
    (iw, ih), (hw, hh) = EVAL_INPUT_SIZE, EVAL_HEATMAP_SIZE
    k = len(COCO_FLIP_INDICES)
    peaks = np.stack(
        [rng.uniform(4, hw - 5, (EVAL_UNIQUE, k)), rng.uniform(4, hh - 5, (EVAL_UNIQUE, k))], -1
    )
    ys, xs = np.mgrid[0:hh, 0:hw].astype(np.float32)
    heatmaps = np.empty((2, EVAL_UNIQUE, k, hh, hw), np.float32)
    for u in range(EVAL_UNIQUE):
        for flip in range(2):
            p = peaks[u] if flip == 0 else peaks[u][COCO_FLIP_INDICES] * [-1, 1] + [hw - 1, 0]
            d2 = (xs[None] - p[:, 0, None, None]) ** 2 + (ys[None] - p[:, 1, None, None]) ** 2
            heatmaps[flip, u] = np.exp(-d2 / (2 * 2.0**2)) * rng.uniform(0.5, 1.0, (k, 1, 1))
    images, annotations, centers, scales = [], [], [], []
    for i in range(num_instances):
        image_id = i // per_image + 1
        if i % per_image == 0:
            images.append({"id": image_id, "width": 640, "height": 480, "file_name": f"{i}.jpg"})
        w = rng.uniform(60, 240)
        h = w * rng.uniform(1.2, 2.0)
        x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
        center = np.array([x + w / 2, y + h / 2])
        bw, bh = w * 1.25, h * 1.25  # MMPose's padding, then the 3:4 aspect ratio
        bw, bh = (bh * iw / ih, bh) if bw < bh * iw / ih else (bw, bw * ih / iw)
        scale = np.array([bw, bh])
        kp = peaks[i % EVAL_UNIQUE] * [iw / hw, ih / hh] / [iw, ih] * scale + center - scale / 2
        kp = kp + rng.normal(0, 0.02 * w, kp.shape)
        flat = np.concatenate([kp, np.full((k, 1), 2.0)], 1).ravel().tolist()
        annotations.append(
            {
                "id": i + 1,
                "image_id": image_id,
                "category_id": 1,
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
                "num_keypoints": k,
                "keypoints": flat,
            }
        )
        centers.append(center)
        scales.append(scale)
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    return coco, heatmaps, np.asarray(centers), np.asarray(scales)


def enlarge_coco(annotation_file: str, copies: int) -> dict:
    """The sample COCO file with every image (and its people) repeated ``copies`` times under
    new ids: the same JPEGs, enough instances for training batches."""
    with open(annotation_file) as f:
        coco = json.load(f)
    images, annotations = [], []
    for c in range(copies):
        for image in coco["images"]:
            images.append({**image, "id": image["id"] * 1000 + c})
        for ann in coco["annotations"]:
            annotations.append(
                {**ann, "id": ann["id"] * 1000 + c, "image_id": ann["image_id"] * 1000 + c}
            )
    return {**coco, "images": images, "annotations": annotations}
