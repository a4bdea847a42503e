"""Dataset metadata against the values in ../shared/MMPOSE_NOTES.md section 3."""

from __future__ import annotations

import pytest

from kpose.datasets import DATASETS, get_dataset_info
from kpose.errors import DataError

COCO_SIGMAS = (.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107,
               .087, .087, .089, .089)
COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO_WEIGHTS = (1.0,) * 7 + (1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5)

# dataset: (K, flip pairs, upper ids, lower ids)
EXPECTED = {
    "coco": (17, [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)],
             range(0, 11), range(11, 17)),
    "mpii": (16, [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)], range(7, 16),
             range(0, 7)),
    "crowdpose": (14, [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)],
                  [*range(0, 6), 12, 13], range(6, 12)),
    "aic": (14, [(0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)], [*range(0, 6), 12, 13],
            range(6, 12)),
    "jhmdb": (15, [(3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14)],
              [0, 1, 2, 3, 4, 7, 8, 11, 12], [5, 6, 9, 10, 13, 14]),
    "posetrack18": (17, [(3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)],
                    range(0, 11), range(11, 17)),
    "humanart": (17, [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)],
                 range(0, 11), range(11, 17)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_flip_pairs_and_body_halves(name):
    info = get_dataset_info(name)
    k, pairs, upper, lower = EXPECTED[name]
    assert info.num_keypoints == k == len(info.sigmas) == len(info.joint_weights)
    assert list(info.flip_pairs) == pairs
    assert list(info.upper_body_ids) == list(upper)
    assert list(info.lower_body_ids) == list(lower)
    assert len(info.keypoint_colors) == k
    assert len(info.skeleton_colors) == len(info.skeleton)


@pytest.mark.parametrize("name", DATASETS)
def test_flip_indices_are_an_involution_matching_the_pairs(name):
    info = get_dataset_info(name)
    flip = info.flip_indices
    assert all(flip[flip[k]] == k for k in range(info.num_keypoints))
    assert {(min(k, j), max(k, j)) for k, j in enumerate(flip) if k != j} == set(info.flip_pairs)
    assert all(0 <= a < info.num_keypoints and 0 <= b < info.num_keypoints
               for a, b in info.skeleton)


def test_coco_family_values():
    for name in ("coco", "humanart", "synthetic"):
        info = get_dataset_info(name)
        assert info.keypoint_names == COCO_NAMES
        assert info.sigmas == COCO_SIGMAS
        assert info.joint_weights == COCO_WEIGHTS
    pt = get_dataset_info("posetrack18")
    assert pt.keypoint_names[:3] == ("nose", "head_bottom", "head_top")
    assert pt.keypoint_names[5:] == COCO_NAMES[5:]
    assert pt.sigmas == COCO_SIGMAS
    assert pt.flip_indices[1:3] == (1, 2)  # head_bottom / head_top are not swapped


def test_other_sigmas_and_weights():
    crowd = get_dataset_info("crowdpose")
    assert crowd.keypoint_names[-2:] == ("top_head", "neck")
    assert crowd.sigmas == COCO_SIGMAS[5:] + (.079, .079)
    assert crowd.joint_weights == (0.2, 0.2, 0.2, 1.3, 1.5, 0.2, 1.3, 1.5, 0.2, 0.2, 0.5, 0.2,
                                   0.2, 0.5)
    aic = get_dataset_info("aic")
    # The notes round to 5 decimals; MMPose carries more digits.
    notes = (0.01388, 0.01515, 0.01058, 0.01418, 0.01498, 0.01402, 0.03910, 0.03687, 0.01982,
             0.03844, 0.03412, 0.02415, 0.01291, 0.01236)
    assert aic.sigmas == pytest.approx(notes, abs=1e-5)
    mpii = get_dataset_info("mpii")
    assert mpii.keypoint_names[6:10] == ("pelvis", "thorax", "upper_neck", "head_top")
    assert [mpii.joint_weights[i] for i in (0, 1, 5, 10, 11, 15)] == [1.5, 1.2, 1.5, 1.5, 1.2, 1.5]


def test_lookup_is_case_insensitive_and_unknown_names_are_explained():
    assert get_dataset_info("COCO") is get_dataset_info("coco")
    assert get_dataset_info("synthetic").name == "synthetic"
    with pytest.raises(DataError, match="'cocoa'.*coco, mpii"):
        get_dataset_info("cocoa")
