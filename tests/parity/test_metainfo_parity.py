"""Dataset metadata against MMPose 1.3.2: its config files and ``parse_pose_metainfo``.

The reference returns both the raw config values (sigmas and joint weights as written, before
MMPose casts them to float32) and the parsed index form, and every field is compared exactly.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from kpose.data.metainfo import get_dataset_info
from kpose.errors import DataError

pytestmark = pytest.mark.parity

NAMES = ("coco", "mpii", "crowdpose", "aic", "jhmdb", "posetrack18", "humanart")

_REFERENCE = """
from mmengine.config import Config
from mmpose.datasets.datasets.utils import parse_pose_metainfo

folder = os.path.join(MMPOSE_CONFIGS, "_base_", "datasets")
names = json.loads(str(inputs["names"])) or sorted(
    f[:-3] for f in os.listdir(folder) if f.endswith(".py")
)
for name in names:
    path = os.path.join(folder, name + ".py")
    raw = Config.fromfile(path).dataset_info
    meta = parse_pose_metainfo(dict(from_file=path))
    outputs[name] = dict(
        path=path,
        dataset_name=meta["dataset_name"],
        names=[meta["keypoint_id2name"][i] for i in range(meta["num_keypoints"])],
        flip_indices=list(meta["flip_indices"]),
        flip_pairs=[list(p) for p in meta["flip_pairs"]],
        upper=list(meta["upper_body_ids"]),
        lower=list(meta["lower_body_ids"]),
        raw_sigmas=list(raw["sigmas"]),
        raw_weights=list(raw["joint_weights"]),
        sigmas=meta["sigmas"].tolist(),
        weights=meta["dataset_keypoint_weights"].tolist(),
        skeleton=[list(p) for p in meta["skeleton_links"]],
        keypoint_colors=meta["keypoint_colors"].tolist(),
        skeleton_colors=meta["skeleton_link_colors"].tolist(),
    )
"""


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    return mmpose_ref(_REFERENCE, names=json.dumps(NAMES))


@pytest.fixture(scope="module")
def every_mmpose_file(mmpose_ref):
    """MMPose's parse of every file in its configs/_base_/datasets/ (55 in 1.3.2)."""
    return mmpose_ref(_REFERENCE, names=json.dumps([]))


def _as_lists(pairs) -> list[list[int]]:
    return [list(p) for p in pairs]


@pytest.mark.parametrize("name", NAMES)
def test_metainfo_equals_mmpose(name, reference):
    ref, info = reference[name], get_dataset_info(name)
    assert ref["dataset_name"].lower().replace("-", "") == info.name  # "Human-Art"
    assert ref["names"] == list(info.keypoint_names)
    assert ref["flip_indices"] == list(info.flip_indices)
    assert ref["upper"] == list(info.upper_body_ids)
    assert ref["lower"] == list(info.lower_body_ids)
    assert ref["skeleton"] == _as_lists(info.skeleton)
    assert ref["keypoint_colors"] == _as_lists(info.keypoint_colors)
    assert ref["skeleton_colors"] == _as_lists(info.skeleton_colors)

    # The config values exactly, and MMPose's float32 arrays of them.
    assert ref["raw_sigmas"] == list(info.sigmas)
    assert ref["raw_weights"] == list(info.joint_weights)
    np.testing.assert_array_equal(np.float32(ref["sigmas"]), np.float32(info.sigmas))
    np.testing.assert_array_equal(np.float32(ref["weights"]), np.float32(info.joint_weights))


@pytest.mark.parametrize("name", NAMES)
def test_flip_pairs_are_mmposes_pairs_listed_once(name, reference):
    """MMPose 1.x appends ``(swap, k)`` for every keypoint k that has a partner, so each pair
    appears twice, once in each order. kpose keeps each pair once, in the order in which it
    first appears, as ``(k, swap)`` with k the joint that comes first."""
    ref, info = reference[name], get_dataset_info(name)
    assert ref["flip_pairs"] == [[j, k] for k, j in enumerate(info.flip_indices) if j != k]
    first_seen = []
    for a, b in ref["flip_pairs"]:
        if [min(a, b), max(a, b)] not in first_seen:
            first_seen.append([min(a, b), max(a, b)])
    assert first_seen == _as_lists(info.flip_pairs)
    assert len(ref["flip_pairs"]) == 2 * len(info.flip_pairs)


# MMPose 1.3.2 files that contradict themselves, which MMPose does not check and kpose refuses:
# 18 joint weights for 19 keypoints, and a swap partner that does not swap back (MMPose's flip
# indices are then no permutation, so a flip would lose vest_kpt9).
INCONSISTENT = {
    "coco_aic": "joint_weights: 18 values for 19 keypoints",
    "humanart_aic": "joint_weights: 18 values for 19 keypoints",
    "deepfashion2": "keypoint 136 (vest_kpt9): swaps with 'vest_kpt13', whose swap is",
}


def test_every_mmpose_dataset_info_file_reads_as_mmpose_parses_it(every_mmpose_file):
    """kpose's reader of MMPose's .py files (literal structure, nothing run) against
    ``parse_pose_metainfo`` on every dataset_info file MMPose ships."""
    assert len(every_mmpose_file) >= 50
    for name, ref in every_mmpose_file.items():
        if name in INCONSISTENT:
            with pytest.raises(DataError, match=re.escape(INCONSISTENT[name])):
                get_dataset_info(ref["path"])
            continue
        info = get_dataset_info(ref["path"])
        assert info.name == ref["dataset_name"], name
        assert list(info.keypoint_names) == ref["names"], name
        assert list(info.flip_indices) == ref["flip_indices"], name
        assert list(info.upper_body_ids) == ref["upper"], name
        assert list(info.lower_body_ids) == ref["lower"], name
        assert _as_lists(info.skeleton) == ref["skeleton"], name
        assert _as_lists(info.keypoint_colors) == ref["keypoint_colors"], name
        assert _as_lists(info.skeleton_colors) == ref["skeleton_colors"], name
        assert list(info.sigmas) == ref["raw_sigmas"], name
        assert list(info.joint_weights) == ref["raw_weights"], name
        assert ref["flip_pairs"] == [[j, k] for k, j in enumerate(info.flip_indices) if j != k]


def test_every_built_in_dataset_equals_its_mmpose_file(every_mmpose_file):
    """The YAML files kpose ships (``kpose/data/keypoints/``) hold what MMPose's file of the same
    name holds (synthetic, the quickstart's, has none)."""
    from dataclasses import replace

    from kpose.data.metainfo import DATASETS

    for name in DATASETS:
        if name == "synthetic":
            continue
        assert name in every_mmpose_file, name
        mine = get_dataset_info(name)
        if name in INCONSISTENT:  # coco_aic: MMPose's parse, but 19 joint weights (the YAML's)
            ref = every_mmpose_file[name]
            assert list(mine.keypoint_names) == ref["names"]
            assert list(mine.flip_indices) == ref["flip_indices"]
            assert (list(mine.upper_body_ids), list(mine.lower_body_ids)) == (
                ref["upper"],
                ref["lower"],
            )
            assert _as_lists(mine.skeleton) == ref["skeleton"]
            assert _as_lists(mine.keypoint_colors) == ref["keypoint_colors"]
            assert _as_lists(mine.skeleton_colors) == ref["skeleton_colors"]
            assert list(mine.sigmas) == ref["raw_sigmas"]
            assert list(mine.joint_weights[:-1]) == ref["raw_weights"]
            continue
        theirs = get_dataset_info(every_mmpose_file[name]["path"])
        assert mine.name == theirs.name or mine.name == theirs.name.lower().replace("-", "")
        assert replace(mine, source="", name="") == replace(theirs, source="", name=""), name
