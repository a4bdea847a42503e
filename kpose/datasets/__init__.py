"""Dataset readers and keypoint metadata."""

from kpose.datasets.metainfo import DATASETS, DatasetInfo, get_dataset_info

__all__ = ["DATASETS", "DatasetInfo", "get_dataset_info"]
