"""Inference over image files, folders and videos (``kpose.inference.files``) through
``python -m kpose.infer``, and the person boxes of boxes and detection files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import kpose
from kpose.infer import main as infer_main
from kpose.inference.files import read_detection_boxes

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"


@pytest.fixture(scope="module")
def coco_files(samples):
    return sorted((samples / "coco").glob("*.jpg"))


def test_infer_cli_on_a_folder_and_a_video(coco_files, tmp_path, capsys):
    weights = tmp_path / "w.weights.h5"
    kpose.build_model(str(QUICKSTART)).save_weights(str(weights))
    folder = tmp_path / "images"
    folder.mkdir()
    for f in coco_files[:2]:
        (folder / f.name).write_bytes(f.read_bytes())
    boxes = tmp_path / "boxes.json"
    boxes.write_text(
        json.dumps({coco_files[0].name: [[10, 10, 200, 300, 0.8], [20, 30, 90, 100, 0.6]]})
    )
    out = tmp_path / "out"
    assert (
        infer_main(
            [
                str(QUICKSTART),
                str(folder),
                "--weights",
                str(weights),
                "--boxes",
                str(boxes),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    rows = json.loads((out / "results.json").read_text())
    assert [r["file_name"] for r in rows] == [coco_files[0].name] * 2  # image 2: no boxes
    assert rows[0]["image_id"] == int(coco_files[0].stem)
    assert rows[0]["score"] == pytest.approx(0.8)
    assert len(rows[0]["keypoints"]) == 3 * 17
    assert sorted(p.name for p in (out / "vis").iterdir()) == sorted(
        f"{f.stem}.jpg" for f in coco_files[:2]
    )

    video = tmp_path / "clip.avi"
    frame = cv2.resize(cv2.imread(str(coco_files[0])), (160, 120))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (160, 120))
    for _ in range(3):
        writer.write(frame)
    writer.release()
    assert (
        infer_main(
            [
                str(QUICKSTART),
                str(video),
                "--weights",
                str(weights),
                "--out",
                str(tmp_path / "v"),
                "--no-progress",
                "--no-flip",
                "--whole",
                "--frames-per-call",
                "2",
            ]
        )
        == 0
    )
    rows = json.loads((tmp_path / "v" / "results.json").read_text())
    assert [r["frame"] for r in rows] == [0, 1, 2]
    assert (tmp_path / "v" / "clip.mp4").stat().st_size > 0
    assert infer_main([str(QUICKSTART), str(tmp_path / "nothing"), "--weights", str(weights)]) == 2
    assert "no such image, folder or video" in capsys.readouterr().err


def test_detection_file_gives_xyxy_person_boxes_and_reports_skips(tmp_path, caplog):
    dets = [
        {"image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
        {"file_name": "a.jpg", "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.8},
        {"image_id": 7, "category_id": 2, "bbox": [0, 0, 5, 5], "score": 0.9},  # not a person
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.1},  # low score
        {"image_id": 7, "bbox": [0, 0, 5, 5]},  # no score
    ]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    boxes = read_detection_boxes(path, score_thr=0.3)
    np.testing.assert_allclose(boxes["7"], [[10, 20, 40, 60, 0.9]], rtol=1e-6)
    np.testing.assert_allclose(boxes["a.jpg"], [[0, 0, 5, 5, 0.8]], rtol=1e-6)
    logged = caplog.text
    assert "kept 2 boxes" in logged and "not person" in logged
    assert "missing image_id/bbox/score" in logged


@pytest.mark.slow  # ~1.5 min: random ViTPose-S and RTMDet-m, saved, read back, run on one photo
def test_infer_with_nothing_but_preset_and_photo(coco_files, tmp_path):
    """``python -m kpose.infer vitpose-s photo.jpg`` in a fresh process: weights and detector
    by name from ``$KPOSE_HOME`` (offline), the detector finds the people, every one is written."""
    import os
    import subprocess
    import sys

    import keras

    from kpose.detection.presets import get as detector_preset
    from kpose.detection.rtmdet import build_rtmdet
    from tests.detection.test_rtmdet import _randomize

    home = tmp_path / "home"
    home.mkdir()
    keras.utils.set_random_seed(0)
    kpose.build_model("vitpose-s").save_weights(str(home / "vitpose-s.weights.h5"))
    preset = detector_preset("rtmdet-m-person")
    detector = build_rtmdet(preset.arch, num_classes=preset.num_classes, name=preset.name)
    _randomize(detector)
    for variable in detector.weights:  # boxes a few strides wide instead of degenerate ones
        if "rtm_reg" in variable.path and "bias" in variable.path:
            variable.assign(np.full(variable.shape, 3.0, np.float32))
    detector.save_weights(str(home / "rtmdet-m-person.weights.h5"))
    env = {**os.environ, "KPOSE_HOME": str(home), "KPOSE_OFFLINE": "1"}
    photo = coco_files[0]
    done = subprocess.run(
        [sys.executable, "-m", "kpose.infer", "vitpose-s", str(photo), "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((tmp_path / "infer_out" / "results.json").read_text())
    assert done.stdout.strip().endswith(f"{len(rows)} people; results in infer_out/results.json")
    assert rows, "the detector found nobody"
    for row in rows:
        assert row["file_name"] == photo.name and len(row["keypoints"]) == 3 * 17
        x1, y1, x2, y2 = row["bbox"]
        assert x2 > x1 and y2 > y1 and 0.3 <= row["score"] <= 1
    assert (tmp_path / "infer_out" / "vis" / f"{photo.stem}.jpg").stat().st_size > 0
