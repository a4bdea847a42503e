"""Dataset metadata against MMPose 1.3.2's ``parse_pose_metainfo`` of its config files."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.datasets import get_dataset_info

pytestmark = pytest.mark.parity

NAMES = ("coco", "mpii", "crowdpose", "aic", "jhmdb", "posetrack18", "humanart")

_REFERENCE = """
from mmpose.datasets.datasets.utils import parse_pose_metainfo

for name in json.loads(str(inputs["names"])):
    path = os.path.join(MMPOSE_CONFIGS, "_base_", "datasets", name + ".py")
    meta = parse_pose_metainfo(dict(from_file=path))
    ids = range(meta["num_keypoints"])
    outputs[name] = dict(
        dataset_name=meta["dataset_name"],
        names=[meta["keypoint_id2name"][i] for i in ids],
        flip_indices=list(meta["flip_indices"]),
        flip_pairs=[list(p) for p in meta["flip_pairs"]],
        upper=list(meta["upper_body_ids"]),
        lower=list(meta["lower_body_ids"]),
        sigmas=meta["sigmas"].tolist(),
        weights=meta["dataset_keypoint_weights"].tolist(),
        skeleton=[list(p) for p in meta["skeleton_links"]],
        keypoint_colors=meta["keypoint_colors"].tolist(),
        skeleton_colors=meta["skeleton_link_colors"].tolist(),
    )
"""


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    import json

    return mmpose_ref(_REFERENCE, names=json.dumps(NAMES))


@pytest.mark.parametrize("name", NAMES)
def test_metainfo_equals_mmpose(name, reference):
    ref, info = reference[name], get_dataset_info(name)
    assert ref["dataset_name"].lower().replace("-", "") == info.name
    assert ref["names"] == list(info.keypoint_names)
    assert ref["flip_indices"] == list(info.flip_indices)
    # MMPose lists each pair in both orders; kpose once, lower index first.
    assert {tuple(sorted(p)) for p in ref["flip_pairs"]} == set(info.flip_pairs)
    assert ref["upper"] == list(info.upper_body_ids)
    assert ref["lower"] == list(info.lower_body_ids)
    np.testing.assert_array_equal(np.float32(ref["sigmas"]), np.float32(info.sigmas))
    np.testing.assert_array_equal(np.float32(ref["weights"]), np.float32(info.joint_weights))
    assert ref["skeleton"] == [list(p) for p in info.skeleton]
    assert ref["keypoint_colors"] == [list(c) for c in info.keypoint_colors]
    assert ref["skeleton_colors"] == [list(c) for c in info.skeleton_colors]
