"""``kpose.fit`` on combined training data, as the coco-aic-combine recipe trains: the
synthetic people and the AIC sample mapped into coco_aic's 19 keypoints, a 19-heatmap model,
validation on the synthetic val split with the 17 keypoints ``eval.output_keypoint_indices``
keeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kpose.data.formats.coco import convert_coco
from kpose.recipe import load_recipe
from kpose.training.trainer import fit

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
AIC_TO_COCO_AIC = [[0, 6], [1, 8], [2, 10], [3, 5], [4, 7], [5, 9], [6, 12], [7, 14], [8, 16],
                   [9, 11], [10, 13], [11, 15], [12, 17], [13, 18]]  # fmt: skip


@pytest.mark.slow  # ~1 min on 2 cores: two traced train and predict steps
def test_fit_on_two_mapped_record_sets(samples, tmp_path):
    aic = tmp_path / "aic"
    convert_coco(
        samples / "aic/test_aic.json", samples / "aic", aic, split="train", dataset="aic",
        shards=1, progress=False,
    )  # fmt: skip
    synthetic = tmp_path / "synthetic"
    identity = [[k, k] for k in range(17)]
    sets = (
        f"[{{root: {synthetic}, keypoint_mapping: {identity}}}, "
        f"{{root: {aic}, keypoint_mapping: {AIC_TO_COCO_AIC}, repeat: 2}}]"
    )
    overrides = {
        "model.backbone_args": "{width: 8, num_blocks: [1, 1, 1], stage1_blocks: 1, "
        "stage1_channels: 16}",
        "model.metainfo": "coco_aic",
        "eval.output_keypoint_indices": list(range(17)),
        "data.root": str(synthetic),
        "data.train_sets": sets,
        "data.synthetic.train_images": 6,
        "data.synthetic.val_images": 2,
        "data.synthetic.shards": 1,
        "data.shuffle_buffer": 8,
        "train.work_dir": str(tmp_path / "work"),
        "train.epochs": 1,
        "train.batch_size": 4,
        "train.warmup_iters": 2,
        "eval.batch_size": 8,  # the 2 val images' people in one batch: one trace
        "eval.flip_test": False,  # the flip test of 19 heatmaps: tests/inference
        "codec.unbiased": False,
    }
    recipe = load_recipe(QUICKSTART, [f"{k}={v}" for k, v in overrides.items()])
    metrics = fit(recipe, progress=False)
    assert np.isfinite(metrics["best"]) and 0.0 <= metrics["AP"] <= 1.0
    history = [json.loads(line) for line in (tmp_path / "work/history.jsonl").open()]
    assert len(history) == 1 and np.isfinite(history[0]["loss"])
    saved = json.loads((tmp_path / "work/recipe.json").read_text())
    assert saved["model"]["metainfo"] == "coco_aic" and len(saved["data"]["train_sets"]) == 2
