"""Combined training data against MMPose 1.3.2's ``CombinedDataset`` + ``KeypointConverter``.

The MMPose side builds the training ``CombinedDataset`` of each combining config
(coco-aic-merge and its vis-head variant, coco-aic-combine, cspnext aic-coco) with its own
sub-dataset and converter settings, the annotation files swapped for the COCO and AIC
samples, and lists every instance it yields; the kpose side converts the samples and reads
each set of the matching recipe (``data.train_sets``: its mapping and ``repeat``) as
training does. Sizes, boxes, mapped keypoints and visibilities must agree, and so must a
mapping with interpolated (pair) sources. One reference run.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from kpose.data import pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.presets import RECIPES_DIR
from kpose.recipe import TrainSetConfig, load_recipe

pytestmark = pytest.mark.parity

CONFIGS = {
    "hrnet_w32_coco_aic_merge.yaml": "td-hm_hrnet-w32_8xb64-210e_coco-aic-256x192-merge.py",
    "resnet50_vis_coco_aic_merge.yaml": "td-hm-vis_res50_8xb64-210e_coco-aic-256x192-merge.py",
    "hrnet_w32_coco_aic_combine.yaml": "td-hm_hrnet-w32_8xb64-210e_coco-aic-256x192-combine.py",
    "cspnext_m_aic_coco.yaml": "cspnext-m_udp_8xb256-210e_aic-coco-256x192.py",
}
# AIC's shoulders, hips and head_top/neck as pair sources (midpoints) into coco_aic
INTERPOLATED = [[[0, 3], 0], [1, 8], [[6, 9], 11], [[12, 13], 17], [13, 18], [4, 7]]

_REFERENCE = """
import copy
from mmengine.config import Config
from mmpose.registry import DATASETS
from mmpose.utils import register_all_modules

register_all_modules()
spec = json.loads(str(inputs["spec"]))
folder = os.path.join(MMPOSE_CONFIGS, "body_2d_keypoint", "topdown_heatmap", "coco")

def sample_dataset(cfg):
    cfg = copy.deepcopy(cfg)
    inner = cfg["dataset"] if cfg["type"] == "RepeatDataset" else cfg
    ann, img = spec["samples"][inner["type"]]
    inner.update(ann_file=ann, data_root="", data_prefix=dict(img=img))
    return cfg

def rows_of(ds):
    rows = []
    for i in range(len(ds)):
        d = ds[i]
        vis = np.asarray(d["keypoints_visible"])[0]
        rows.append(dict(bbox=np.asarray(d["bbox"]).reshape(-1).tolist(),
                         keypoints=np.asarray(d["keypoints"])[0].tolist(),
                         visible=(vis[:, 0] if vis.ndim == 2 else vis).tolist()))
    return rows

for name, config in spec["configs"].items():
    cfg = Config.fromfile(os.path.join(folder, config)).train_dataloader.dataset.to_dict()
    subsets = [sample_dataset(c) for c in cfg["datasets"]]
    combined = DATASETS.build(dict(type="CombinedDataset", metainfo=cfg["metainfo"],
                                   datasets=subsets, pipeline=[]))
    outputs[name] = dict(lens=combined.lens, rows=rows_of(combined),
                         flip_indices=list(combined.metainfo["flip_indices"]))
ann, img = spec["samples"]["AicDataset"]
outputs["interpolated"] = dict(rows=rows_of(DATASETS.build(dict(
    type="AicDataset", ann_file=ann, data_root="", data_prefix=dict(img=img),
    pipeline=[dict(type="KeypointConverter", num_keypoints=19, mapping=spec["interpolated"])]))))
"""


@pytest.fixture(scope="module")
def roots(samples, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("combined")
    for name, dataset in (("coco", "coco"), ("aic", "aic")):
        ann = samples / name / f"test_{name}.json"
        convert_coco(
            ann,
            samples / name,
            tmp / name,
            split="train",
            dataset=dataset,
            shards=2,
            progress=False,
        )
    return {name: str(tmp / name) for name in ("coco", "aic")}


@pytest.fixture(scope="module")
def reference(mmpose_ref, samples):
    spec = {
        "configs": CONFIGS,
        "samples": {
            "CocoDataset": [str(samples / "coco/test_coco.json"), str(samples / "coco")],
            "AicDataset": [str(samples / "aic/test_aic.json"), str(samples / "aic")],
        },
        "interpolated": INTERPOLATED,
    }
    return mmpose_ref(_REFERENCE, spec=json.dumps(spec))


def _ours(train_set: TrainSetConfig, info) -> list[dict]:
    return [
        dict(bbox=e["bbox"].tolist(), keypoints=e["keypoints"], visible=e["keypoints_visible"])
        for e in pipeline.train_set_instances(train_set, info).as_numpy_iterator()
    ]


def _assert_rows_equal(ours: list[dict], theirs: list[dict], label: str) -> None:
    """Same instances (in any order within the set: kpose reads shards in turn)."""
    assert len(ours) == len(theirs) > 0, label
    ours, theirs = (sorted(rows, key=lambda r: r["bbox"]) for rows in (ours, theirs))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a["bbox"], b["bbox"], rtol=1e-6, atol=1e-4, err_msg=label)
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=1e-4, err_msg=label)
        np.testing.assert_array_equal(a["visible"], b["visible"], err_msg=label)


@pytest.mark.parametrize("recipe_file", list(CONFIGS))
def test_recipe_train_sets_read_as_mmposes_combined_dataset(recipe_file, roots, reference):
    recipe = load_recipe(RECIPES_DIR / recipe_file)
    ref = reference[recipe_file]
    info = recipe.model_info
    assert list(info.flip_indices) == ref["flip_indices"]
    sets = [
        dataclasses.replace(s, root=roots[s.root.rstrip("/").rsplit("/", 1)[-1]])
        for s in recipe.data.train_record_sets
    ]
    data = dataclasses.replace(recipe.data, train_sets=tuple(sets))
    # MMPose's sub-dataset lengths (RepeatDataset included) and the pass over all of them
    sizes = [
        pipeline.count_training_instances(dataclasses.replace(data, train_sets=(s,))) for s in sets
    ]
    assert sizes == ref["lens"]
    assert pipeline.count_training_instances(data) == sum(ref["lens"])
    start = 0
    for i, (train_set, n) in enumerate(zip(sets, ref["lens"], strict=True)):
        _assert_rows_equal(_ours(train_set, info), ref["rows"][start : start + n], f"set {i}")
        start += n


def test_interpolated_sources_as_mmposes_converter(roots, reference):
    info = get_dataset_info("coco_aic")
    pairs = [((s, s) if isinstance(s, int) else tuple(s), t) for s, t in INTERPOLATED]
    train_set = TrainSetConfig(roots["aic"], "train", tuple(pairs))
    _assert_rows_equal(_ours(train_set, info), reference["interpolated"]["rows"], "pairs")
