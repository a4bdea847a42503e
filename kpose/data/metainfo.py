"""Keypoint metadata of the supported datasets, equal to MMPose 1.3.2's
``configs/_base_/datasets/*.py``.

Each dataset is written as a table with one row per keypoint: name, mirror partner ('' for
centre joints), body half ('upper' / 'lower', used by RandomHalfBody), RGB display colour, OKS
sigma and joint weight. Its skeleton is a list of named links with colours. ``DatasetInfo`` holds
the index form that the rest of kpose uses. The indices are derived as MMPose's
``parse_pose_metainfo`` derives them; the one exception is that each flip pair is listed once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kpose.errors import DataError

Color = tuple[int, int, int]

_BLUE: Color = (51, 153, 255)
_GREEN: Color = (0, 255, 0)
_ORANGE: Color = (255, 128, 0)


@dataclass(frozen=True)
class DatasetInfo:
    """Keypoint metadata of one dataset. Indices are 0-based.

    ``flip_indices[k]`` is the index of k's mirror joint, or k itself for a centre joint.
    ``flip_pairs`` lists each mirror pair once as ``(k, flip_indices[k])``, in keypoint order.
    Its first element is the joint that comes first in MMPose's ``keypoint_info``. MMPose
    1.x's own ``flip_pairs`` lists every pair twice, once in each order.
    ``skeleton`` holds the links in the order of MMPose's ``skeleton_info``.
    ``sigmas`` and ``joint_weights`` are the config values (MMPose casts them to float32).
    The colours are the RGB values of MMPose's configs.
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


def _dataset(name: str, keypoints: tuple, skeleton: tuple) -> DatasetInfo:
    """Build a ``DatasetInfo`` from a keypoint table and a skeleton table.

    Keypoint rows are ``(name, swap, type, colour, sigma, weight)``; skeleton rows are
    ``(name_a, name_b, colour)``.
    """
    names, swaps, types, colors, sigmas, weights = zip(*keypoints, strict=True)
    index = {kpt: i for i, kpt in enumerate(names)}
    # As in MMPose, an empty swap or a swap naming the joint itself makes the joint its own mirror.
    flip = tuple(index[swap] if swap else i for i, swap in enumerate(swaps))
    return DatasetInfo(
        name=name,
        keypoint_names=names,
        flip_indices=flip,
        flip_pairs=tuple((i, j) for i, j in enumerate(flip) if i < j),
        upper_body_ids=tuple(i for i, t in enumerate(types) if t == "upper"),
        lower_body_ids=tuple(i for i, t in enumerate(types) if t == "lower"),
        sigmas=sigmas,
        joint_weights=weights,
        skeleton=tuple((index[a], index[b]) for a, b, _ in skeleton),
        keypoint_colors=colors,
        skeleton_colors=tuple(color for _, _, color in skeleton),
    )


# The 12 limb joints of COCO, which PoseTrack18 and Human-Art share. CrowdPose has the same
# joints with other colours and weights.
_COCO_LIMB_JOINTS = (
    ("left_shoulder", "right_shoulder", "upper", _GREEN, 0.079, 1.0),
    ("right_shoulder", "left_shoulder", "upper", _ORANGE, 0.079, 1.0),
    ("left_elbow", "right_elbow", "upper", _GREEN, 0.072, 1.2),
    ("right_elbow", "left_elbow", "upper", _ORANGE, 0.072, 1.2),
    ("left_wrist", "right_wrist", "upper", _GREEN, 0.062, 1.5),
    ("right_wrist", "left_wrist", "upper", _ORANGE, 0.062, 1.5),
    ("left_hip", "right_hip", "lower", _GREEN, 0.107, 1.0),
    ("right_hip", "left_hip", "lower", _ORANGE, 0.107, 1.0),
    ("left_knee", "right_knee", "lower", _GREEN, 0.087, 1.2),
    ("right_knee", "left_knee", "lower", _ORANGE, 0.087, 1.2),
    ("left_ankle", "right_ankle", "lower", _GREEN, 0.089, 1.5),
    ("right_ankle", "left_ankle", "lower", _ORANGE, 0.089, 1.5),
)
# The first 12 skeleton links of COCO, CrowdPose, PoseTrack18 and Human-Art.
_COCO_LIMB_LINKS = (
    ("left_ankle", "left_knee", _GREEN),
    ("left_knee", "left_hip", _GREEN),
    ("right_ankle", "right_knee", _ORANGE),
    ("right_knee", "right_hip", _ORANGE),
    ("left_hip", "right_hip", _BLUE),
    ("left_shoulder", "left_hip", _BLUE),
    ("right_shoulder", "right_hip", _BLUE),
    ("left_shoulder", "right_shoulder", _BLUE),
    ("left_shoulder", "left_elbow", _GREEN),
    ("right_shoulder", "right_elbow", _ORANGE),
    ("left_elbow", "left_wrist", _GREEN),
    ("right_elbow", "right_wrist", _ORANGE),
)

_COCO = _dataset(
    "coco",
    keypoints=(
        ("nose", "", "upper", _BLUE, 0.026, 1.0),
        ("left_eye", "right_eye", "upper", _BLUE, 0.025, 1.0),
        ("right_eye", "left_eye", "upper", _BLUE, 0.025, 1.0),
        ("left_ear", "right_ear", "upper", _BLUE, 0.035, 1.0),
        ("right_ear", "left_ear", "upper", _BLUE, 0.035, 1.0),
        *_COCO_LIMB_JOINTS,
    ),
    skeleton=(
        *_COCO_LIMB_LINKS,
        ("left_eye", "right_eye", _BLUE),
        ("nose", "left_eye", _BLUE),
        ("nose", "right_eye", _BLUE),
        ("left_eye", "left_ear", _BLUE),
        ("right_eye", "right_ear", _BLUE),
        ("left_ear", "left_shoulder", _BLUE),
        ("right_ear", "right_shoulder", _BLUE),
    ),
)

_POSETRACK18 = _dataset(
    "posetrack18",
    keypoints=(
        ("nose", "", "upper", _BLUE, 0.026, 1.0),
        ("head_bottom", "", "upper", _BLUE, 0.025, 1.0),  # in COCO's left_eye slot, not swapped
        ("head_top", "", "upper", _BLUE, 0.025, 1.0),  # in COCO's right_eye slot
        ("left_ear", "right_ear", "upper", _BLUE, 0.035, 1.0),
        ("right_ear", "left_ear", "upper", _BLUE, 0.035, 1.0),
        *_COCO_LIMB_JOINTS,
    ),
    skeleton=(
        *_COCO_LIMB_LINKS,
        ("nose", "head_bottom", _BLUE),
        ("nose", "head_top", _BLUE),
        ("head_bottom", "left_shoulder", _BLUE),
        ("head_bottom", "right_shoulder", _BLUE),
    ),
)

_CROWDPOSE = _dataset(
    "crowdpose",
    keypoints=(  # MMPose's colours and joint weights for CrowdPose are irregular; kept as they are
        ("left_shoulder", "right_shoulder", "upper", _BLUE, 0.079, 0.2),
        ("right_shoulder", "left_shoulder", "upper", _BLUE, 0.079, 0.2),
        ("left_elbow", "right_elbow", "upper", _BLUE, 0.072, 0.2),
        ("right_elbow", "left_elbow", "upper", _BLUE, 0.072, 1.3),
        ("left_wrist", "right_wrist", "upper", _BLUE, 0.062, 1.5),
        ("right_wrist", "left_wrist", "upper", _GREEN, 0.062, 0.2),
        ("left_hip", "right_hip", "lower", _ORANGE, 0.107, 1.3),
        ("right_hip", "left_hip", "lower", _GREEN, 0.107, 1.5),
        ("left_knee", "right_knee", "lower", _ORANGE, 0.087, 0.2),
        ("right_knee", "left_knee", "lower", _GREEN, 0.087, 0.2),
        ("left_ankle", "right_ankle", "lower", _ORANGE, 0.089, 0.5),
        ("right_ankle", "left_ankle", "lower", _GREEN, 0.089, 0.2),
        ("top_head", "", "upper", _ORANGE, 0.079, 0.2),
        ("neck", "", "upper", _GREEN, 0.079, 0.5),
    ),
    skeleton=(
        *_COCO_LIMB_LINKS,
        ("top_head", "neck", _BLUE),
        ("right_shoulder", "neck", _BLUE),
        ("left_shoulder", "neck", _BLUE),
    ),
)

_MPII = _dataset(
    "mpii",
    keypoints=(
        ("right_ankle", "left_ankle", "lower", _ORANGE, 0.089, 1.5),
        ("right_knee", "left_knee", "lower", _ORANGE, 0.083, 1.2),
        ("right_hip", "left_hip", "lower", _ORANGE, 0.107, 1.0),
        ("left_hip", "right_hip", "lower", _GREEN, 0.107, 1.0),
        ("left_knee", "right_knee", "lower", _GREEN, 0.083, 1.2),
        ("left_ankle", "right_ankle", "lower", _GREEN, 0.089, 1.5),
        ("pelvis", "", "lower", _BLUE, 0.026, 1.0),
        ("thorax", "", "upper", _BLUE, 0.026, 1.0),
        ("upper_neck", "", "upper", _BLUE, 0.026, 1.0),
        ("head_top", "", "upper", _BLUE, 0.026, 1.0),
        ("right_wrist", "left_wrist", "upper", _ORANGE, 0.062, 1.5),
        ("right_elbow", "left_elbow", "upper", _ORANGE, 0.072, 1.2),
        ("right_shoulder", "left_shoulder", "upper", _ORANGE, 0.179, 1.0),
        ("left_shoulder", "right_shoulder", "upper", _GREEN, 0.179, 1.0),
        ("left_elbow", "right_elbow", "upper", _GREEN, 0.072, 1.2),
        ("left_wrist", "right_wrist", "upper", _GREEN, 0.062, 1.5),
    ),
    skeleton=(
        ("right_ankle", "right_knee", _ORANGE),
        ("right_knee", "right_hip", _ORANGE),
        ("right_hip", "pelvis", _ORANGE),
        ("pelvis", "left_hip", _GREEN),
        ("left_hip", "left_knee", _GREEN),
        ("left_knee", "left_ankle", _GREEN),
        ("pelvis", "thorax", _BLUE),
        ("thorax", "upper_neck", _BLUE),
        ("upper_neck", "head_top", _BLUE),
        ("upper_neck", "right_shoulder", _ORANGE),
        ("right_shoulder", "right_elbow", _ORANGE),
        ("right_elbow", "right_wrist", _ORANGE),
        ("upper_neck", "left_shoulder", _GREEN),
        ("left_shoulder", "left_elbow", _GREEN),
        ("left_elbow", "left_wrist", _GREEN),
    ),
)

_AIC = _dataset(
    "aic",
    keypoints=(
        ("right_shoulder", "left_shoulder", "upper", _ORANGE, 0.01388152, 1.0),
        ("right_elbow", "left_elbow", "upper", _ORANGE, 0.01515228, 1.2),
        ("right_wrist", "left_wrist", "upper", _ORANGE, 0.01057665, 1.5),
        ("left_shoulder", "right_shoulder", "upper", _GREEN, 0.01417709, 1.0),
        ("left_elbow", "right_elbow", "upper", _GREEN, 0.01497891, 1.2),
        ("left_wrist", "right_wrist", "upper", _GREEN, 0.01402144, 1.5),
        ("right_hip", "left_hip", "lower", _ORANGE, 0.03909642, 1.0),
        ("right_knee", "left_knee", "lower", _ORANGE, 0.03686941, 1.2),
        ("right_ankle", "left_ankle", "lower", _ORANGE, 0.01981803, 1.5),
        ("left_hip", "right_hip", "lower", _GREEN, 0.03843971, 1.0),
        ("left_knee", "right_knee", "lower", _GREEN, 0.03412318, 1.2),
        ("left_ankle", "right_ankle", "lower", _GREEN, 0.02415081, 1.5),
        ("head_top", "", "upper", _BLUE, 0.01291456, 1.0),
        ("neck", "", "upper", _BLUE, 0.01236173, 1.0),
    ),
    skeleton=(
        ("right_wrist", "right_elbow", _ORANGE),
        ("right_elbow", "right_shoulder", _ORANGE),
        ("right_shoulder", "neck", _BLUE),
        ("neck", "left_shoulder", _BLUE),
        ("left_shoulder", "left_elbow", _GREEN),
        ("left_elbow", "left_wrist", _GREEN),
        ("right_ankle", "right_knee", _ORANGE),
        ("right_knee", "right_hip", _ORANGE),
        ("right_hip", "left_hip", _BLUE),
        ("left_hip", "left_knee", _GREEN),
        ("left_knee", "left_ankle", _GREEN),
        ("head_top", "neck", _BLUE),
        ("right_shoulder", "right_hip", _BLUE),
        ("left_shoulder", "left_hip", _BLUE),
    ),
)

_JHMDB = _dataset(
    "jhmdb",
    keypoints=(
        ("neck", "", "upper", _ORANGE, 0.025, 1.0),
        ("belly", "", "upper", _ORANGE, 0.107, 1.0),
        ("head", "", "upper", _ORANGE, 0.025, 1.0),
        ("right_shoulder", "left_shoulder", "upper", _GREEN, 0.079, 1.0),
        ("left_shoulder", "right_shoulder", "upper", _GREEN, 0.079, 1.0),
        ("right_hip", "left_hip", "lower", _GREEN, 0.107, 1.0),
        ("left_hip", "right_hip", "lower", _BLUE, 0.107, 1.0),
        ("right_elbow", "left_elbow", "upper", _BLUE, 0.072, 1.2),
        ("left_elbow", "right_elbow", "upper", _BLUE, 0.072, 1.2),
        ("right_knee", "left_knee", "lower", _BLUE, 0.087, 1.2),
        ("left_knee", "right_knee", "lower", _ORANGE, 0.087, 1.2),
        ("right_wrist", "left_wrist", "upper", _ORANGE, 0.062, 1.5),
        ("left_wrist", "right_wrist", "upper", _ORANGE, 0.062, 1.5),
        ("right_ankle", "left_ankle", "lower", _GREEN, 0.089, 1.5),
        ("left_ankle", "right_ankle", "lower", _GREEN, 0.089, 1.5),
    ),
    skeleton=(
        ("right_ankle", "right_knee", _ORANGE),
        ("right_knee", "right_hip", _ORANGE),
        ("right_hip", "belly", _ORANGE),
        ("belly", "left_hip", _GREEN),
        ("left_hip", "left_knee", _GREEN),
        ("left_knee", "left_ankle", _GREEN),
        ("belly", "neck", _BLUE),
        ("neck", "head", _BLUE),
        ("neck", "right_shoulder", _ORANGE),
        ("right_shoulder", "right_elbow", _ORANGE),
        ("right_elbow", "right_wrist", _ORANGE),
        ("neck", "left_shoulder", _GREEN),
        ("left_shoulder", "left_elbow", _GREEN),
        ("left_elbow", "left_wrist", _GREEN),
    ),
)

_ALL = {
    info.name: info
    for info in (
        _COCO,
        _MPII,
        _CROWDPOSE,
        _AIC,
        _JHMDB,
        _POSETRACK18,
        replace(_COCO, name="humanart"),  # MMPose's humanart.py differs from coco.py only in name
        replace(_COCO, name="synthetic"),
    )
}
DATASETS: tuple[str, ...] = tuple(_ALL)


def get_dataset_info(name: str) -> DatasetInfo:
    """The metadata of dataset ``name``, which is one of ``DATASETS``. Case is ignored.

    Raises ``DataError`` for an unknown name; the message lists the known ones.
    """
    info = _ALL.get(str(name).lower())
    if info is None:
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return info
