"""The top-down instances a converted record set holds, as MMPose's dataset classes load them:
what the reader-parity tests compare against MMPose's data lists."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kpose.data.metainfo import get_dataset_info
from kpose.data.records import instance_bbox_xyxy, parse_example, split_files, topdown_valid
from kpose.geometry.boxes import bbox_xyxy_to_center_scale


def loaded_instances(root, dataset: str, split: str = "val", padding: float = 1.25) -> list[dict]:
    """Every instance of ``split`` under ``root`` that MMPose's top-down loader keeps, in
    record order, as plain lists: id, img_id, bbox (x1 y1 x2 y2), center / scale
    (GetBBoxCenterScale with ``padding``), keypoints (K, 2), visible (the readers' 0/1),
    area, num_keypoints and head_size (-1 where the records have none)."""
    info = get_dataset_info(dataset)
    rows = []
    for serialized in tf.data.TFRecordDataset(split_files(str(root), split, info)):
        ex = parse_example(serialized, info.num_keypoints)
        bbox = instance_bbox_xyxy(ex, info)
        keep = topdown_valid(
            bbox, ex["instance/keypoints"], ex["instance/iscrowd"], ex["instance/num_keypoints"]
        ).numpy()
        center, scale = (t.numpy() for t in bbox_xyxy_to_center_scale(bbox, padding))
        kpts = ex["instance/keypoints"].numpy()
        heads = ex["instance/head_size"].numpy()
        for j in np.flatnonzero(keep):
            rows.append(
                dict(
                    id=int(ex["instance/id"].numpy()[j]),
                    img_id=int(ex["image/id"]),
                    bbox=bbox.numpy()[j].tolist(),
                    center=center[j].tolist(),
                    scale=scale[j].tolist(),
                    keypoints=kpts[j, :, :2].tolist(),
                    visible=np.minimum(1, kpts[j, :, 2]).tolist(),
                    area=float(ex["instance/area"].numpy()[j]),
                    num_keypoints=int(ex["instance/num_keypoints"].numpy()[j]),
                    head_size=float(heads[j]) if len(heads) else -1.0,
                )
            )
    return rows
