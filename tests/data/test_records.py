"""The record layer: MMPose's box reading gives the same boxes from an ImageRecord's numpy
arrays (what the writer counts) as from parsed tensors (what the pipelines read), and the
writer's top-down count is the number of instances the training pipeline yields."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.data import pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.data.records import (
    count_train_instances,
    from_example,
    instance_bbox_xyxy,
    parse_example,
    split_files,
)


@pytest.mark.parametrize("dataset", ["coco", "mpii"])  # clipped and unclipped boxes
def test_instance_boxes_from_arrays_equal_boxes_from_tensors(samples, tmp_path, dataset):
    convert_coco(
        samples / "coco/test_coco.json", samples / "coco", tmp_path, shards=1, progress=False
    )
    info = get_dataset_info(dataset)
    for serialized in tf.data.TFRecordDataset(split_files(tmp_path, "train")):
        rec = from_example(serialized.numpy(), 17)
        ours = instance_bbox_xyxy(
            {"instance/bbox": rec.bbox_xywh, "image/width": rec.width, "image/height": rec.height},
            info,
        )
        assert isinstance(ours, np.ndarray)
        ex = parse_example(serialized, 17)
        np.testing.assert_array_equal(ours, instance_bbox_xyxy(ex, info).numpy())


def test_topdown_count_is_what_training_reads(samples, tmp_path):
    convert_coco(
        samples / "coco/test_coco.json", samples / "coco", tmp_path, shards=2, progress=False
    )
    info = get_dataset_info("coco")
    n = sum(1 for _ in pipeline.train_instances(str(tmp_path), "train", info))
    assert count_train_instances(tmp_path, "train") == n > 0
