"""Dataset metadata against the values of MMPose's dataset_info files (the parity sibling,
tests/parity/test_metainfo_parity.py, reads those files themselves)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from kpose.data.metainfo import (
    BUILTIN_DIR,
    DATASETS,
    DatasetInfo,
    get_dataset_info,
    load_metainfo,
    to_yaml,
)
from kpose.errors import DataError

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
AIC_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "head_top", "neck",
)  # fmt: skip
JHMDB_NAMES = (
    "neck", "belly", "head", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee",
    "right_wrist", "left_wrist", "right_ankle", "left_ankle",
)  # fmt: skip
COCO_PAIRS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]

# name: (keypoint names in order, flip pairs, upper ids, lower ids)
EXPECTED = {
    "coco": (COCO_NAMES, COCO_PAIRS, range(0, 11), range(11, 17)),
    "humanart": (COCO_NAMES, COCO_PAIRS, range(0, 11), range(11, 17)),
    "synthetic": (COCO_NAMES, COCO_PAIRS, range(0, 11), range(11, 17)),
    "posetrack18": (
        ("nose", "head_bottom", "head_top") + COCO_NAMES[3:],
        COCO_PAIRS[1:],  # head_bottom (1) and head_top (2) are not a mirror pair
        range(0, 11),
        range(11, 17),
    ),
    "mpii": (
        MPII_NAMES,
        [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)],
        range(7, 16),
        range(0, 7),
    ),
    "crowdpose": (
        COCO_NAMES[5:] + ("top_head", "neck"),
        [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)],
        [*range(0, 6), 12, 13],
        range(6, 12),
    ),
    "aic": (
        AIC_NAMES,
        [(0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)],
        [*range(0, 6), 12, 13],
        range(6, 12),
    ),
    "jhmdb": (
        JHMDB_NAMES,
        [(3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14)],
        [0, 1, 2, 3, 4, 7, 8, 11, 12],
        [5, 6, 9, 10, 13, 14],
    ),
}


def _pattern_weights(names) -> tuple[float, ...]:
    """The notes' rule: wrists and ankles 1.5, elbows and knees 1.2, everything else 1.0."""
    return tuple(
        1.5
        if name.endswith(("wrist", "ankle"))
        else 1.2
        if name.endswith(("elbow", "knee"))
        else 1.0
        for name in names
    )


def test_the_body_datasets_are_built_in_files():
    assert set(EXPECTED) <= set(DATASETS)
    for name in EXPECTED:
        assert get_dataset_info(name).source == str(BUILTIN_DIR / f"{name}.yaml")


@pytest.mark.parametrize("name", EXPECTED)
def test_names_flip_pairs_and_body_halves(name):
    info = get_dataset_info(name)
    names, pairs, upper, lower = EXPECTED[name]
    assert isinstance(info, DatasetInfo)
    assert info.name == name
    assert info.keypoint_names == names
    assert info.num_keypoints == len(names)
    assert list(info.flip_pairs) == pairs
    assert info.upper_body_ids == tuple(upper)
    assert info.lower_body_ids == tuple(lower)


@pytest.mark.parametrize("name", DATASETS)
def test_per_keypoint_and_per_link_fields_have_matching_lengths(name):
    info = get_dataset_info(name)
    k = info.num_keypoints
    assert len(info.flip_indices) == len(info.joint_weights) == k
    assert len(info.sigmas) in (0, k)  # MMPose's face and hand files give no OKS sigmas
    assert len(info.keypoint_colors) == k
    assert len(info.skeleton_colors) == len(info.skeleton)
    colors = info.keypoint_colors + info.skeleton_colors
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in colors)


@pytest.mark.parametrize("name", EXPECTED)
def test_flip_indices_are_an_involution_that_matches_the_pairs(name):
    info = get_dataset_info(name)
    flip = info.flip_indices
    assert sorted(flip) == list(range(info.num_keypoints))
    assert all(flip[flip[k]] == k for k in range(info.num_keypoints))
    assert [(k, j) for k, j in enumerate(flip) if k < j] == list(info.flip_pairs)
    # A mirror pair is always a left and a right joint; centre joints map to themselves.
    for k, j in info.flip_pairs:
        a, b = info.keypoint_names[k], info.keypoint_names[j]
        assert {a.split("_")[0], b.split("_")[0]} == {"left", "right"}
        assert a.split("_", 1)[1] == b.split("_", 1)[1]


@pytest.mark.parametrize("name", DATASETS)
def test_skeleton_indices_are_in_range(name):
    info = get_dataset_info(name)
    assert all(0 <= a < info.num_keypoints and 0 <= b < info.num_keypoints and a != b
               for a, b in info.skeleton)  # fmt: skip
    assert len(set(info.skeleton)) == len(info.skeleton)


@pytest.mark.parametrize("name", ["coco", "humanart", "synthetic", "posetrack18"])
def test_coco_family_sigmas_and_weights(name):
    info = get_dataset_info(name)
    assert info.sigmas == COCO_SIGMAS
    assert info.joint_weights == (1.0,) * 7 + (1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5)
    assert info.joint_weights == _pattern_weights(info.keypoint_names)


def test_crowdpose_sigmas_and_odd_weights():
    info = get_dataset_info("crowdpose")
    assert info.sigmas == COCO_SIGMAS[5:] + (0.079, 0.079)
    assert info.joint_weights == (
        0.2, 0.2, 0.2, 1.3, 1.5, 0.2, 1.3, 1.5, 0.2, 0.2, 0.5, 0.2, 0.2, 0.5,
    )  # fmt: skip


def test_aic_sigmas():
    # The notes round MMPose's values to 5 decimals.
    notes = (
        0.01388, 0.01515, 0.01058, 0.01418, 0.01498, 0.01402, 0.03910,
        0.03687, 0.01982, 0.03844, 0.03412, 0.02415, 0.01291, 0.01236,
    )  # fmt: skip
    assert get_dataset_info("aic").sigmas == pytest.approx(notes, abs=5e-6)


@pytest.mark.parametrize("name", ["mpii", "aic", "jhmdb"])
def test_pattern_weights(name):
    info = get_dataset_info(name)
    assert info.joint_weights == _pattern_weights(info.keypoint_names)
    assert set(info.joint_weights) == {1.0, 1.2, 1.5}


def test_synthetic_and_humanart_are_coco_renamed():
    coco = get_dataset_info("coco")
    for name in ("synthetic", "humanart"):
        info = get_dataset_info(name)
        assert info == replace(coco, name=name, source=info.source)


def test_lookup_is_case_insensitive():
    assert get_dataset_info("COCO") is get_dataset_info("coco")
    assert get_dataset_info("PoseTrack18") is get_dataset_info("posetrack18")


def test_unknown_name_raises_a_data_error_listing_the_known_ones():
    with pytest.raises(DataError) as excinfo:
        get_dataset_info("cocoa")
    message = str(excinfo.value)
    assert "'cocoa'" in message
    assert all(name in message for name in DATASETS)


def test_info_is_immutable():
    with pytest.raises(FrozenInstanceError):
        get_dataset_info("coco").name = "other"


FACE5 = """
name: face5
keypoints:
  - {name: nose, color: [51, 153, 255], sigma: 0.026}
  - {name: left_eye, swap: right_eye, type: upper, sigma: 0.025, weight: 1.5}
  - {name: right_eye, swap: left_eye, type: upper, sigma: 0.025, weight: 1.5}
  - {name: left_ear, swap: right_ear, type: upper, sigma: 0.035}
  - {name: right_ear, swap: left_ear, type: upper, sigma: 0.035}
skeleton:
  - {link: [left_eye, right_eye], color: [0, 255, 0]}
  - {link: [nose, left_ear]}
"""

# The shape of MMPose's configs/_base_/datasets/*.py: dict(...) calls, [1.] * n, names.
FACE5_MMPOSE = """
colors = dict(eye=[0, 255, 0])
dataset_info = dict(
    dataset_name='face5',
    paper_info=dict(author='someone', year='2024'),
    keypoint_info={
        0: dict(name='nose', id=0, color=[51, 153, 255], type='', swap=''),
        1: dict(name='left_eye', id=1, color=colors['eye'], type='upper', swap='right_eye'),
        2: dict(name='right_eye', id=2, color=colors['eye'], type='upper', swap='left_eye'),
        3: dict(name='left_ear', id=3, type='upper', swap='right_ear'),
        4: dict(name='right_ear', id=4, type='upper', swap='left_ear'),
    },
    skeleton_info={
        0: dict(link=('left_eye', 'right_eye'), id=0, color=[0, 255, 0]),
        1: dict(link=('nose', 'left_ear'), id=1),
    },
    joint_weights=[1.] + [1.5] * 2 + [1.] * 2,
    sigmas=[0.026, 0.025, 0.025, 0.035, 0.035])
"""


def test_a_custom_yaml_file_reads_with_mmposes_defaults(tmp_path):
    path = tmp_path / "face5.yaml"
    path.write_text(FACE5)
    info = get_dataset_info(path)
    assert info.name == "face5" and info.num_keypoints == 5
    assert info.flip_indices == (0, 2, 1, 4, 3) and info.flip_pairs == ((1, 2), (3, 4))
    assert info.upper_body_ids == (1, 2, 3, 4) and info.lower_body_ids == ()
    assert info.joint_weights == (1.0, 1.5, 1.5, 1.0, 1.0)
    assert info.keypoint_colors[1] == (255, 128, 0)  # MMPose's default keypoint colour
    assert info.skeleton == ((1, 2), (0, 3))
    assert info.skeleton_colors == ((0, 255, 0), (96, 96, 255))  # and its default link colour
    assert info.source == str(path.resolve())
    assert load_metainfo(path) is info  # read once per file version


def test_an_mmpose_dataset_info_file_reads_without_running_it(tmp_path):
    path = tmp_path / "face5.py"
    path.write_text(FACE5_MMPOSE)
    info = get_dataset_info(str(path))
    yaml_path = tmp_path / "face5.yaml"
    yaml_path.write_text(
        FACE5.replace("type: upper, sigma: 0.025", "type: upper, color: [0, 255, 0], sigma: 0.025")
    )
    expected = get_dataset_info(yaml_path)
    assert replace(info, source="") == replace(expected, source="")


def test_to_yaml_round_trips_every_built_in_dataset(tmp_path):
    for name in DATASETS:
        info = get_dataset_info(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_yaml(info, comment=f"{name}\nround trip"))
        assert replace(load_metainfo(path), source="") == replace(info, source="")


@pytest.mark.parametrize(
    "edit, message",
    [
        (("swap: right_eye,", "swap: right_ey,"), "swap partner 'right_ey' is not a keypoint"),
        (("swap: left_ear,", "swap: nose,"), "swaps with 'right_ear', whose swap is 'nose'"),
        (("sigma: 0.026}", "}"), "'sigma' given for some keypoints but not for ['nose']"),
        (("name: right_ear,", "name: left_ear,"), "name 'left_ear' is also keypoint 3"),
        (("[0, 255, 0]", "[0, 256, 0]"), "a colour is three integers 0..255"),
        (("link: [nose, left_ear]", "link: [nose, chin]"), "'link' must name two keypoints"),
        (("type: upper, sigma: 0.035}", "type: middle, sigma: 0.035}"), "type must be upper"),
        (("sigma: 0.026", "sigma: -1"), "OKS sigmas must be > 0"),
        (("weight: 1.5}", "weight: .nan}"), "expected finite numbers"),
        (("name: face5", "name: face5\ncolour: red"), "unknown key 'colour'"),
        (("{name: nose,", "{nme: nose,"), "unknown key 'nme'"),
    ],
)
def test_a_bad_yaml_file_names_the_file_and_the_field(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    assert edit[0] in FACE5
    path.write_text(FACE5.replace(edit[0], edit[1], 1))
    with pytest.raises(DataError) as excinfo:
        get_dataset_info(path)
    assert str(path) in str(excinfo.value) and message in str(excinfo.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("import os\ndataset_info = dict()", "only 'name = <literal structure>' is read"),
        ("dataset_info = __import__('os').system('touch pwned')", "only dict(key=value, ...)"),
        ("dataset_info = getattr(__import__('os'), 'system')('x')", "only dict(key=value, ...)"),
        ("dataset_info = dict(a=open('/etc/passwd').read())", "only dict(key=value, ...)"),
        ("dataset_info = dict(**x)", "'**' inside dict() is not read"),
        ("dataset_info = [0] * 10**9", "BinOp"),
        ("dataset_info = [0] * 100000 * 100000", "more than 1000000"),
        ("dataset_info = dict(a=b)", "name 'b' is not assigned earlier"),
        ("dataset_info = (lambda: 1)()", "only dict(key=value, ...)"),
        ("dataset_info = dict(", "not valid Python"),
        ("x = 1", "no 'dataset_info = dict(...)'"),
        ("dataset_info = dict(dataset_name='x')", "dataset_info has no 'keypoint_info'"),
    ],
)
def test_an_mmpose_file_that_is_not_literal_structure_is_refused(tmp_path, text, message):
    path = tmp_path / "evil.py"
    path.write_text(text)
    with pytest.raises(DataError) as excinfo:
        get_dataset_info(path)
    assert str(path) in str(excinfo.value) and message in str(excinfo.value)
    assert not (tmp_path / "pwned").exists()


def test_unreadable_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not readable"):
        get_dataset_info(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        get_dataset_info(tmp_path / "latin1.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(DataError, match="expected a mapping"):
        get_dataset_info(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        get_dataset_info(tmp_path / "broken.yaml")
