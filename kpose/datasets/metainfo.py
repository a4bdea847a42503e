"""Keypoint metadata of the seed datasets, equal to MMPose's ``configs/_base_/datasets/*.py``.

Each dataset is one table: per keypoint its name, its mirror partner ('' for centre joints),
its body half (U upper / L lower, used by RandomHalfBody) and display colour; the skeleton as
named links with colours; the joint weights and the OKS sigmas. ``DatasetInfo`` holds the
index form the rest of kpose uses, derived as MMPose's ``parse_pose_metainfo`` derives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpose.errors import DataError

Color = tuple[int, int, int]


@dataclass(frozen=True)
class DatasetInfo:
    """Keypoint metadata of one dataset (0-based indices throughout).

    ``flip_indices[k]`` is the index of k's mirror joint (k itself for centre joints);
    ``flip_pairs`` lists each mirror pair once, lower index first; ``skeleton`` holds the
    links in MMPose's order; colours are as MMPose's metainfo gives them.
    """

    name: str
    keypoint_names: tuple[str, ...]
    flip_indices: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    upper_body_ids: tuple[int, ...]
    lower_body_ids: tuple[int, ...]
    sigmas: tuple[float, ...]
    joint_weights: tuple[float, ...]
    skeleton: tuple[tuple[int, int], ...]
    keypoint_colors: tuple[Color, ...]
    skeleton_colors: tuple[Color, ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)


def _table(name: str, keypoints, skeleton, joint_weights, sigmas) -> DatasetInfo:
    names = tuple(k[0] for k in keypoints)
    index = {n: i for i, n in enumerate(names)}
    flip_indices = tuple(
        index[mirror] if mirror else i for i, (_, mirror, _, _) in enumerate(keypoints)
    )
    return DatasetInfo(
        name=name,
        keypoint_names=names,
        flip_indices=flip_indices,
        flip_pairs=tuple((i, j) for i, j in enumerate(flip_indices) if i < j),
        upper_body_ids=tuple(i for i, k in enumerate(keypoints) if k[2] == "U"),
        lower_body_ids=tuple(i for i, k in enumerate(keypoints) if k[2] == "L"),
        sigmas=tuple(sigmas),
        joint_weights=tuple(joint_weights),
        skeleton=tuple((index[a], index[b]) for a, b, _ in skeleton),
        keypoint_colors=tuple(k[3] for k in keypoints),
        skeleton_colors=tuple(color for _, _, color in skeleton),
    )


_COCO = _table(
    "coco",
    keypoints=(  # name, mirror, body half, RGB colour
        ("nose", "", "U", (51, 153, 255)),
        ("left_eye", "right_eye", "U", (51, 153, 255)),
        ("right_eye", "left_eye", "U", (51, 153, 255)),
        ("left_ear", "right_ear", "U", (51, 153, 255)),
        ("right_ear", "left_ear", "U", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("right_shoulder", "left_shoulder", "U", (255, 128, 0)),
        ("left_elbow", "right_elbow", "U", (0, 255, 0)),
        ("right_elbow", "left_elbow", "U", (255, 128, 0)),
        ("left_wrist", "right_wrist", "U", (0, 255, 0)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("left_hip", "right_hip", "L", (0, 255, 0)),
        ("right_hip", "left_hip", "L", (255, 128, 0)),
        ("left_knee", "right_knee", "L", (0, 255, 0)),
        ("right_knee", "left_knee", "L", (255, 128, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
        ("right_ankle", "left_ankle", "L", (255, 128, 0)),
    ),
    skeleton=(
        ("left_ankle", "left_knee", (0, 255, 0)),
        ("left_knee", "left_hip", (0, 255, 0)),
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("left_hip", "right_hip", (51, 153, 255)),
        ("left_shoulder", "left_hip", (51, 153, 255)),
        ("right_shoulder", "right_hip", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", (51, 153, 255)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("left_eye", "right_eye", (51, 153, 255)),
        ("nose", "left_eye", (51, 153, 255)),
        ("nose", "right_eye", (51, 153, 255)),
        ("left_eye", "left_ear", (51, 153, 255)),
        ("right_eye", "right_ear", (51, 153, 255)),
        ("left_ear", "left_shoulder", (51, 153, 255)),
        ("right_ear", "right_shoulder", (51, 153, 255)),
    ),
    joint_weights=(
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
    ),
    sigmas=(
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ),
)

_MPII = _table(
    "mpii",
    keypoints=(  # name, mirror, body half, RGB colour
        ("right_ankle", "left_ankle", "L", (255, 128, 0)),
        ("right_knee", "left_knee", "L", (255, 128, 0)),
        ("right_hip", "left_hip", "L", (255, 128, 0)),
        ("left_hip", "right_hip", "L", (0, 255, 0)),
        ("left_knee", "right_knee", "L", (0, 255, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
        ("pelvis", "", "L", (51, 153, 255)),
        ("thorax", "", "U", (51, 153, 255)),
        ("upper_neck", "", "U", (51, 153, 255)),
        ("head_top", "", "U", (51, 153, 255)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("right_elbow", "left_elbow", "U", (255, 128, 0)),
        ("right_shoulder", "left_shoulder", "U", (255, 128, 0)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("left_elbow", "right_elbow", "U", (0, 255, 0)),
        ("left_wrist", "right_wrist", "U", (0, 255, 0)),
    ),
    skeleton=(
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("right_hip", "pelvis", (255, 128, 0)),
        ("pelvis", "left_hip", (0, 255, 0)),
        ("left_hip", "left_knee", (0, 255, 0)),
        ("left_knee", "left_ankle", (0, 255, 0)),
        ("pelvis", "thorax", (51, 153, 255)),
        ("thorax", "upper_neck", (51, 153, 255)),
        ("upper_neck", "head_top", (51, 153, 255)),
        ("upper_neck", "right_shoulder", (255, 128, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("upper_neck", "left_shoulder", (0, 255, 0)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
    ),
    joint_weights=(1.5, 1.2, 1.0, 1.0, 1.2, 1.5, 1.0, 1.0, 1.0, 1.0, 1.5, 1.2, 1.0, 1.0, 1.2, 1.5),
    sigmas=(
        0.089,
        0.083,
        0.107,
        0.107,
        0.083,
        0.089,
        0.026,
        0.026,
        0.026,
        0.026,
        0.062,
        0.072,
        0.179,
        0.179,
        0.072,
        0.062,
    ),
)

_CROWDPOSE = _table(
    "crowdpose",
    keypoints=(  # name, mirror, body half, RGB colour
        ("left_shoulder", "right_shoulder", "U", (51, 153, 255)),
        ("right_shoulder", "left_shoulder", "U", (51, 153, 255)),
        ("left_elbow", "right_elbow", "U", (51, 153, 255)),
        ("right_elbow", "left_elbow", "U", (51, 153, 255)),
        ("left_wrist", "right_wrist", "U", (51, 153, 255)),
        ("right_wrist", "left_wrist", "U", (0, 255, 0)),
        ("left_hip", "right_hip", "L", (255, 128, 0)),
        ("right_hip", "left_hip", "L", (0, 255, 0)),
        ("left_knee", "right_knee", "L", (255, 128, 0)),
        ("right_knee", "left_knee", "L", (0, 255, 0)),
        ("left_ankle", "right_ankle", "L", (255, 128, 0)),
        ("right_ankle", "left_ankle", "L", (0, 255, 0)),
        ("top_head", "", "U", (255, 128, 0)),
        ("neck", "", "U", (0, 255, 0)),
    ),
    skeleton=(
        ("left_ankle", "left_knee", (0, 255, 0)),
        ("left_knee", "left_hip", (0, 255, 0)),
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("left_hip", "right_hip", (51, 153, 255)),
        ("left_shoulder", "left_hip", (51, 153, 255)),
        ("right_shoulder", "right_hip", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", (51, 153, 255)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("top_head", "neck", (51, 153, 255)),
        ("right_shoulder", "neck", (51, 153, 255)),
        ("left_shoulder", "neck", (51, 153, 255)),
    ),
    joint_weights=(0.2, 0.2, 0.2, 1.3, 1.5, 0.2, 1.3, 1.5, 0.2, 0.2, 0.5, 0.2, 0.2, 0.5),
    sigmas=(
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
        0.079,
        0.079,
    ),
)

_AIC = _table(
    "aic",
    keypoints=(  # name, mirror, body half, RGB colour
        ("right_shoulder", "left_shoulder", "U", (255, 128, 0)),
        ("right_elbow", "left_elbow", "U", (255, 128, 0)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("left_elbow", "right_elbow", "U", (0, 255, 0)),
        ("left_wrist", "right_wrist", "U", (0, 255, 0)),
        ("right_hip", "left_hip", "L", (255, 128, 0)),
        ("right_knee", "left_knee", "L", (255, 128, 0)),
        ("right_ankle", "left_ankle", "L", (255, 128, 0)),
        ("left_hip", "right_hip", "L", (0, 255, 0)),
        ("left_knee", "right_knee", "L", (0, 255, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
        ("head_top", "", "U", (51, 153, 255)),
        ("neck", "", "U", (51, 153, 255)),
    ),
    skeleton=(
        ("right_wrist", "right_elbow", (255, 128, 0)),
        ("right_elbow", "right_shoulder", (255, 128, 0)),
        ("right_shoulder", "neck", (51, 153, 255)),
        ("neck", "left_shoulder", (51, 153, 255)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("right_hip", "left_hip", (51, 153, 255)),
        ("left_hip", "left_knee", (0, 255, 0)),
        ("left_knee", "left_ankle", (0, 255, 0)),
        ("head_top", "neck", (51, 153, 255)),
        ("right_shoulder", "right_hip", (51, 153, 255)),
        ("left_shoulder", "left_hip", (51, 153, 255)),
    ),
    joint_weights=(1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.0, 1.0),
    sigmas=(
        0.01388152,
        0.01515228,
        0.01057665,
        0.01417709,
        0.01497891,
        0.01402144,
        0.03909642,
        0.03686941,
        0.01981803,
        0.03843971,
        0.03412318,
        0.02415081,
        0.01291456,
        0.01236173,
    ),
)

_JHMDB = _table(
    "jhmdb",
    keypoints=(  # name, mirror, body half, RGB colour
        ("neck", "", "U", (255, 128, 0)),
        ("belly", "", "U", (255, 128, 0)),
        ("head", "", "U", (255, 128, 0)),
        ("right_shoulder", "left_shoulder", "U", (0, 255, 0)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("right_hip", "left_hip", "L", (0, 255, 0)),
        ("left_hip", "right_hip", "L", (51, 153, 255)),
        ("right_elbow", "left_elbow", "U", (51, 153, 255)),
        ("left_elbow", "right_elbow", "U", (51, 153, 255)),
        ("right_knee", "left_knee", "L", (51, 153, 255)),
        ("left_knee", "right_knee", "L", (255, 128, 0)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("left_wrist", "right_wrist", "U", (255, 128, 0)),
        ("right_ankle", "left_ankle", "L", (0, 255, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
    ),
    skeleton=(
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("right_hip", "belly", (255, 128, 0)),
        ("belly", "left_hip", (0, 255, 0)),
        ("left_hip", "left_knee", (0, 255, 0)),
        ("left_knee", "left_ankle", (0, 255, 0)),
        ("belly", "neck", (51, 153, 255)),
        ("neck", "head", (51, 153, 255)),
        ("neck", "right_shoulder", (255, 128, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("neck", "left_shoulder", (0, 255, 0)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
    ),
    joint_weights=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.2, 1.2, 1.5, 1.5, 1.5, 1.5),
    sigmas=(
        0.025,
        0.107,
        0.025,
        0.079,
        0.079,
        0.107,
        0.107,
        0.072,
        0.072,
        0.087,
        0.087,
        0.062,
        0.062,
        0.089,
        0.089,
    ),
)

_POSETRACK18 = _table(
    "posetrack18",
    keypoints=(  # name, mirror, body half, RGB colour
        ("nose", "", "U", (51, 153, 255)),
        ("head_bottom", "", "U", (51, 153, 255)),
        ("head_top", "", "U", (51, 153, 255)),
        ("left_ear", "right_ear", "U", (51, 153, 255)),
        ("right_ear", "left_ear", "U", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("right_shoulder", "left_shoulder", "U", (255, 128, 0)),
        ("left_elbow", "right_elbow", "U", (0, 255, 0)),
        ("right_elbow", "left_elbow", "U", (255, 128, 0)),
        ("left_wrist", "right_wrist", "U", (0, 255, 0)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("left_hip", "right_hip", "L", (0, 255, 0)),
        ("right_hip", "left_hip", "L", (255, 128, 0)),
        ("left_knee", "right_knee", "L", (0, 255, 0)),
        ("right_knee", "left_knee", "L", (255, 128, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
        ("right_ankle", "left_ankle", "L", (255, 128, 0)),
    ),
    skeleton=(
        ("left_ankle", "left_knee", (0, 255, 0)),
        ("left_knee", "left_hip", (0, 255, 0)),
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("left_hip", "right_hip", (51, 153, 255)),
        ("left_shoulder", "left_hip", (51, 153, 255)),
        ("right_shoulder", "right_hip", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", (51, 153, 255)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("nose", "head_bottom", (51, 153, 255)),
        ("nose", "head_top", (51, 153, 255)),
        ("head_bottom", "left_shoulder", (51, 153, 255)),
        ("head_bottom", "right_shoulder", (51, 153, 255)),
    ),
    joint_weights=(
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
    ),
    sigmas=(
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ),
)

_HUMANART = _table(
    "humanart",
    keypoints=(  # name, mirror, body half, RGB colour
        ("nose", "", "U", (51, 153, 255)),
        ("left_eye", "right_eye", "U", (51, 153, 255)),
        ("right_eye", "left_eye", "U", (51, 153, 255)),
        ("left_ear", "right_ear", "U", (51, 153, 255)),
        ("right_ear", "left_ear", "U", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", "U", (0, 255, 0)),
        ("right_shoulder", "left_shoulder", "U", (255, 128, 0)),
        ("left_elbow", "right_elbow", "U", (0, 255, 0)),
        ("right_elbow", "left_elbow", "U", (255, 128, 0)),
        ("left_wrist", "right_wrist", "U", (0, 255, 0)),
        ("right_wrist", "left_wrist", "U", (255, 128, 0)),
        ("left_hip", "right_hip", "L", (0, 255, 0)),
        ("right_hip", "left_hip", "L", (255, 128, 0)),
        ("left_knee", "right_knee", "L", (0, 255, 0)),
        ("right_knee", "left_knee", "L", (255, 128, 0)),
        ("left_ankle", "right_ankle", "L", (0, 255, 0)),
        ("right_ankle", "left_ankle", "L", (255, 128, 0)),
    ),
    skeleton=(
        ("left_ankle", "left_knee", (0, 255, 0)),
        ("left_knee", "left_hip", (0, 255, 0)),
        ("right_ankle", "right_knee", (255, 128, 0)),
        ("right_knee", "right_hip", (255, 128, 0)),
        ("left_hip", "right_hip", (51, 153, 255)),
        ("left_shoulder", "left_hip", (51, 153, 255)),
        ("right_shoulder", "right_hip", (51, 153, 255)),
        ("left_shoulder", "right_shoulder", (51, 153, 255)),
        ("left_shoulder", "left_elbow", (0, 255, 0)),
        ("right_shoulder", "right_elbow", (255, 128, 0)),
        ("left_elbow", "left_wrist", (0, 255, 0)),
        ("right_elbow", "right_wrist", (255, 128, 0)),
        ("left_eye", "right_eye", (51, 153, 255)),
        ("nose", "left_eye", (51, 153, 255)),
        ("nose", "right_eye", (51, 153, 255)),
        ("left_eye", "left_ear", (51, 153, 255)),
        ("right_eye", "right_ear", (51, 153, 255)),
        ("left_ear", "left_shoulder", (51, 153, 255)),
        ("right_ear", "right_shoulder", (51, 153, 255)),
    ),
    joint_weights=(
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
        1.0,
        1.0,
        1.2,
        1.2,
        1.5,
        1.5,
    ),
    sigmas=(
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ),
)


_SYNTHETIC = DatasetInfo(**{**_COCO.__dict__, "name": "synthetic"})

_ALL = {
    info.name: info
    for info in (_COCO, _MPII, _CROWDPOSE, _AIC, _JHMDB, _POSETRACK18, _HUMANART, _SYNTHETIC)
}
DATASETS: tuple[str, ...] = tuple(_ALL)


def get_dataset_info(name: str) -> DatasetInfo:
    """Metadata of dataset ``name`` (case-insensitive); one of ``DATASETS``."""
    info = _ALL.get(str(name).lower())
    if info is None:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return info
