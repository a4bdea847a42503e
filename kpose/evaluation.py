"""Predict keypoints for validation crops and score them with the dataset's metric.

The chain is MMPose's test step: model on the crop (and on the horizontally flipped crop when
flip test is on, flipped back with ``flip_indices`` and MMPose's ``shift_heatmap``), the two
heatmaps averaged, decoded by the codec to input-crop pixels, and mapped back to the image with
``kp_img = kp_in / input_size * scale + center - scale / 2``.
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from kpose.codecs import flip_heatmaps
from kpose.data.convert import split_files
from kpose.data.records import from_example

log = logging.getLogger(__name__)


def make_predict_fn(model, codec, flip_indices, *, flip_test: bool = True,
                    shift_heatmap: bool = True, jit_compile: bool = False):
    """A compiled function: uint8/float crops (B, h, w, 3) -> (keypoints_in, scores)."""

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def predict(images):
        images = tf.cast(images, tf.float32)
        heatmaps = tf.cast(model(images, training=False), tf.float32)
        if flip_test:
            flipped = tf.cast(model(tf.reverse(images, axis=[2]), training=False), tf.float32)
            heatmaps = (heatmaps + flip_heatmaps(flipped, flip_indices, shift_heatmap)) * 0.5
        return codec.decode(heatmaps)

    return predict


def to_image_coords(keypoints_in: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    input_size: tuple[int, int]) -> np.ndarray:
    """MMPose's back-projection: input-crop pixels -> original image pixels."""
    size = np.asarray(input_size, np.float64)
    return (keypoints_in / size * scale[:, None, :] + center[:, None, :]
            - 0.5 * scale[:, None, :])


def predict_dataset(predict, dataset: tf.data.Dataset, input_size: tuple[int, int],
                    *, total: int | None = None, progress: bool = True) -> list[dict]:
    """Run ``predict`` over a val dataset; one prediction dict per instance (metric API)."""
    preds = []
    for batch in tqdm(dataset, total=total, desc="predict", unit="batch", disable=not progress,
                      leave=False):
        kp_in, scores = predict(batch["image"])
        center = batch["center"].numpy().astype(np.float64)
        scale = batch["scale"].numpy().astype(np.float64)
        kps = to_image_coords(np.asarray(kp_in, np.float64), center, scale, input_size)
        scores = np.asarray(scores)
        for i in range(kps.shape[0]):
            preds.append({
                "image_id": int(batch["image_id"][i]),
                "keypoints": kps[i],
                "keypoint_scores": scores[i],
                "bbox_score": float(batch["bbox_score"][i]),
                "area": float(np.prod(scale[i])),
            })
    return preds


def coco_ground_truth(root: str, split: str, num_keypoints: int,
                      keypoint_names: tuple[str, ...]) -> dict:
    """Rebuild the COCO-format ground truth of a converted split from its TFRecords."""
    images, annotations = [], []
    for path in split_files(root, split):
        for serialized in tf.data.TFRecordDataset(path):
            rec = from_example(serialized.numpy(), num_keypoints)
            images.append({"id": rec.image_id, "file_name": rec.file_name,
                           "width": rec.width, "height": rec.height,
                           "crowdIndex": rec.crowd_index})
            for j in range(len(rec.instance_ids)):
                ann = {
                    "id": int(rec.instance_ids[j]),
                    "image_id": rec.image_id,
                    "category_id": int(rec.category_id[j]),
                    "bbox": [float(v) for v in rec.bbox_xywh[j]],
                    "iscrowd": int(rec.iscrowd[j]),
                    "keypoints": [float(v) for v in rec.keypoints[j].reshape(-1)],
                    "num_keypoints": int(rec.instance_num_keypoints[j]),
                }
                if rec.area[j] >= 0:  # -1: the source file had no area
                    ann["area"] = float(rec.area[j])
                annotations.append(ann)
    images.sort(key=lambda d: d["id"])
    annotations.sort(key=lambda d: d["id"])
    categories = [{"id": 1, "name": "person", "supercategory": "person",
                   "keypoints": list(keypoint_names), "skeleton": []}]
    return {"images": images, "annotations": annotations, "categories": categories}
