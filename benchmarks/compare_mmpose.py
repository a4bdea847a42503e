"""The MMPose side of ``benchmarks/compare.py``: run by the reference virtualenv's Python
(MMPose 1.3.2 on PyTorch, CPU), one workload per process, serving timed windows
(``compare_common.serve``). Not part of kpose: it imports MMPose, never kpose.

    $KPOSE_MMPOSE_REF benchmarks/compare_mmpose.py '{"kind": "model", ...}'
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import sys
import time
import warnings

import numpy as np
from compare_common import COCO_FLIP_INDICES, EVAL_HEATMAP_SIZE, EVAL_INPUT_SIZE, serve

warnings.filterwarnings("ignore")

import mmpose  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmpose.apis import inference_topdown, init_model  # noqa: E402
from mmpose.utils import register_all_modules  # noqa: E402

register_all_modules()
CONFIGS = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")


def load_config(name: str) -> Config:
    cfg = Config.fromfile(os.path.join(CONFIGS, name))
    cfg.model.backbone.init_cfg = None  # random weights: no pretrained download
    return cfg


class Model:
    """The heatmap model's forward (``mode="tensor"``, no grad) on random crops."""

    def __init__(self, spec):
        cfg = load_config(spec["config"])
        self.model = init_model(cfg, None, device="cpu").eval()
        self.height, self.width = spec["height"], spec["width"]
        self.info = {"device": "cpu", "torch": torch.__version__, "mmpose": mmpose.__version__}

    def prepare(self, config):
        self.x = torch.rand(config["batch"], 3, self.height, self.width) * 255

    def step(self, config):
        with torch.no_grad():
            self.model.forward(self.x, None, mode="tensor")
        return config["batch"]


class Predict:
    """``inference_topdown`` on decoded images (BGR, as MMPose reads them) with given boxes."""

    def __init__(self, spec):
        import cv2

        cfg = load_config(spec["config"])
        self.model = init_model(cfg, None, device="cpu").eval()
        self.images = [cv2.imread(path) for path in spec["images"]]
        self.boxes = [np.asarray(b, np.float32) for b in spec["boxes"]]
        self.info = {"flip_test": bool(cfg.model.test_cfg.get("flip_test", False))}
        self.order = itertools.cycle(range(len(self.images)))

    def step(self, config):
        i = next(self.order)
        inference_topdown(self.model, self.images[i], self.boxes[i])
        return 1


def _dataset(cfg, ann_file, image_dir, pipeline):
    from mmpose.registry import DATASETS

    return DATASETS.build(
        dict(
            type="CocoDataset",
            data_root="",
            data_mode="topdown",
            ann_file=ann_file,
            data_prefix=dict(img=image_dir + "/"),
            pipeline=pipeline,
            test_mode=False,
        )
    )


class InputPath:
    """The config's train pipeline (file read + JPEG decode, flip, half-body, bbox transform,
    affine crop, heatmap targets, packing) over the instances, in this process."""

    def __init__(self, spec):
        cfg = load_config(spec["config"])
        self.dataset = _dataset(cfg, spec["ann_file"], spec["image_dir"], cfg.train_pipeline)
        self.per_step, self.order = 32, itertools.cycle(range(len(self.dataset)))
        self.info = {"instances": len(self.dataset)}

    def step(self, config):
        for _ in range(self.per_step):
            self.dataset[next(self.order)]
        return self.per_step


class TrainStep:
    """``model.train_step`` (data preprocessor, forward, loss, backward, the config's
    optimizer wrapper) on one packed batch of the train pipeline."""

    def __init__(self, spec):
        from mmengine.optim import build_optim_wrapper

        cfg = load_config(spec["config"])
        torch.manual_seed(0)
        self.model = init_model(cfg, None, device="cpu")
        self.model.train()
        self.optim_wrapper = build_optim_wrapper(self.model, copy.deepcopy(cfg.optim_wrapper))
        dataset = _dataset(cfg, spec["ann_file"], spec["image_dir"], cfg.train_pipeline)
        samples = [dataset[i % len(dataset)] for i in range(spec["batch"])]
        self.batch = pseudo_collate(samples)
        self.info = {"optimizer": cfg.optim_wrapper.optimizer.type}

    def step(self, config):
        self.model.train_step(copy.copy(self.batch), self.optim_wrapper)
        return len(self.batch["inputs"])


class Evaluate:
    """MMPose's test-time decode of every instance (flip average, then the MSRA codec's
    ``decode`` one instance at a time, as ``HeatmapHead.decode``), the back-projection of
    ``TopdownPoseEstimator`` and ``CocoMetric`` (rescoring, OKS-NMS, COCO AP)."""

    def __init__(self, spec):
        from mmpose.codecs import MSRAHeatmap
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        from mmpose.evaluation.metrics import CocoMetric
        from mmpose.models.utils.tta import flip_heatmaps

        self.flip_heatmaps = flip_heatmaps
        self.codec = MSRAHeatmap(
            input_size=EVAL_INPUT_SIZE, heatmap_size=EVAL_HEATMAP_SIZE, sigma=2.0
        )
        self.heatmaps = np.load(spec["heatmaps"], mmap_mode="r")
        self.centers = np.load(spec["centers"])
        self.scales = np.load(spec["scales"])
        with open(spec["ann_file"]) as f:
            self.image_ids = [a["image_id"] for a in json.load(f)["annotations"]]
        self.ann_file = spec["ann_file"]
        self.meta = parse_pose_metainfo(dict(from_file="configs/_base_/datasets/coco.py"))
        self.metric_cls = CocoMetric
        self.info = {"instances": len(self.image_ids)}
        self.last = {}

    def step(self, config):
        metric = self.metric_cls(ann_file=self.ann_file)
        metric.dataset_meta = self.meta
        n, unique, chunk = len(self.image_ids), self.heatmaps.shape[1], 100
        size = np.asarray(EVAL_INPUT_SIZE, np.float32)
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            u = idx % unique
            original = torch.from_numpy(np.ascontiguousarray(self.heatmaps[0, u]))
            mirrored = torch.from_numpy(np.ascontiguousarray(self.heatmaps[1, u]))
            flipped = self.flip_heatmaps(
                mirrored, flip_mode="heatmap", flip_indices=COCO_FLIP_INDICES, shift_heatmap=True
            )
            heatmaps = ((original + flipped) * 0.5).numpy()
            samples = []
            for j, i in enumerate(idx):
                keypoints, scores = self.codec.decode(heatmaps[j])
                keypoints = (
                    keypoints / size * self.scales[i] + self.centers[i] - 0.5 * self.scales[i]
                )
                samples.append(
                    {
                        "id": int(i) + 1,
                        "img_id": self.image_ids[i],
                        "pred_instances": {"keypoints": keypoints, "keypoint_scores": scores},
                        "gt_instances": {
                            "bbox_scales": self.scales[i][None],
                            "bbox_scores": np.ones(1, np.float32),
                        },
                    }
                )
            metric.process([], samples)
        self.last = {k: float(v) for k, v in metric.compute_metrics(metric.results).items()}
        return n


class Sgemm:
    """float32 matrix products of ``n x n`` (peak GFLOP/s of this library on this CPU)."""

    def __init__(self, spec):
        self.n = spec.get("n", 2048)
        self.a, self.b = torch.rand(self.n, self.n), torch.rand(self.n, self.n)
        self.info = {}

    def step(self, config):
        torch.mm(self.a, self.b)
        return 2 * self.n**3 / 1e9  # GFLOP


WORKLOADS = {
    "model": Model,
    "predict": Predict,
    "input": InputPath,
    "train": TrainStep,
    "evaluate": Evaluate,
    "sgemm": Sgemm,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    t0 = time.perf_counter()
    workload = WORKLOADS[spec["kind"]](spec)
    workload.info = {**workload.info, "setup_s": round(time.perf_counter() - t0, 2)}
    serve(workload)


if __name__ == "__main__":
    main()
