"""``PoseEstimator.predict``, ``python -m kpose.infer`` and ``kpose.visualize`` (random weights:
mechanics, shapes, inputs and errors; numbers against MMPose are in tests/parity/)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import kpose
from kpose.errors import DataError
from kpose.infer import main as infer_main
from kpose.infer import read_detection_boxes
from kpose.inference.estimator import PoseEstimator
from kpose.visualize import draw_heatmaps, draw_pose

QUICKSTART = Path(__file__).parents[1] / "recipes" / "quickstart.yaml"


@pytest.fixture(scope="module")
def estimator():
    return PoseEstimator.from_recipe(kpose.load_recipe_for(str(QUICKSTART)))


@pytest.fixture(scope="module")
def coco_files(samples):
    return sorted((samples / "coco").glob("*.jpg"))


def test_one_image_many_boxes(estimator, coco_files):
    image = cv2.cvtColor(cv2.imread(str(coco_files[0])), cv2.COLOR_BGR2RGB)
    boxes = np.array(
        [[10, 20, 200, 300, 0.9], [50, 60, 120, 200, 0.4], [0, 0, 30, 30, 1.0]], np.float32
    )
    k = estimator.dataset_info.num_keypoints
    result = estimator.predict(image, boxes, batch_size=2)  # 3 boxes: two calls, one padded
    assert result["keypoints"].shape == (3, k, 2) and result["scores"].shape == (3, k)
    np.testing.assert_array_equal(result["box_scores"], boxes[:, 4])
    np.testing.assert_array_equal(result["boxes"], boxes[:, :4])
    # the same boxes one at a time give the same keypoints (batching does not matter)
    one = estimator.predict(image, boxes[1:2, :4])
    np.testing.assert_allclose(one["keypoints"][0], result["keypoints"][1], atol=1e-3)
    # keypoints of a box lie near it (back-projection into image pixels)
    x1, y1, x2, y2 = boxes[0, :4]
    kp = result["keypoints"][0]
    assert np.all((kp[:, 0] > x1 - 0.3 * (x2 - x1)) & (kp[:, 0] < x2 + 0.3 * (x2 - x1)))


def test_list_of_paths_no_boxes_and_empty_boxes(estimator, coco_files):
    results = estimator.predict([str(f) for f in coco_files[:2]])
    assert [r["keypoints"].shape[0] for r in results] == [1, 1]  # the whole image
    h, w = cv2.imread(str(coco_files[0])).shape[:2]
    np.testing.assert_array_equal(results[0]["boxes"], [[0, 0, w, h]])
    mixed = estimator.predict(
        [str(coco_files[0]), str(coco_files[1])],
        [np.zeros((0, 4)), [[5, 5, 100, 100]]],
        flip_test=False,
    )
    assert mixed[0]["keypoints"].shape[0] == 0 and mixed[1]["keypoints"].shape[0] == 1


def test_bad_inputs_name_what_is_wrong(estimator, coco_files, tmp_path):
    with pytest.raises(DataError, match="missing.jpg: cannot read"):
        estimator.predict(str(tmp_path / "missing.jpg"))
    with pytest.raises(DataError, match="uint8"):
        estimator.predict(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(DataError, match=r"boxes of image 0: expected \(N, 4\)"):
        estimator.predict(str(coco_files[0]), [[1, 2, 3]])
    with pytest.raises(DataError, match="2 images but boxes for 1"):
        estimator.predict([str(f) for f in coco_files[:2]], [[[0, 0, 5, 5]]])


def test_draw_pose_and_heatmaps_change_the_right_pixels():
    image = np.zeros((200, 200, 3), np.uint8)
    info = kpose.data.metainfo.get_dataset_info("coco")
    keypoints = np.full((1, 17, 2), 100.0)
    keypoints[0, 5], keypoints[0, 7] = (60, 60), (140, 140)  # left shoulder -> left elbow
    scores = np.zeros((1, 17))
    scores[0, [5, 7]] = 0.9
    drawn = draw_pose(image, {"keypoints": keypoints, "scores": scores}, info)
    assert drawn[100, 100].any()  # on the shoulder-elbow line
    assert drawn[60, 60].any() and drawn[140, 140].any()  # the two joints
    assert not drawn[20, 180].any() and not image.any()  # elsewhere untouched, input intact
    crop = np.zeros((64, 48, 3), np.uint8)
    heat = np.zeros((16, 12, 17), np.float32)
    heat[8, 6, 3] = 1.0
    overlay = draw_heatmaps(crop, heat)
    assert overlay[32, 24].sum() > overlay[2, 2].sum()


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
            ]
        )
        == 0
    )
    rows = json.loads((tmp_path / "v" / "results.json").read_text())
    assert [r["frame"] for r in rows] == [0, 1, 2]
    assert (tmp_path / "v" / "clip.mp4").stat().st_size > 0
    assert infer_main([str(QUICKSTART), str(tmp_path / "nothing"), "--weights", str(weights)]) == 2
    assert "no such image, folder or video" in capsys.readouterr().err


def test_detection_file_gives_xyxy_person_boxes_and_reports_skips(tmp_path, capsys):
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
    out = capsys.readouterr().out
    assert "kept 2 boxes" in out and "not person" in out and "missing image_id/bbox/score" in out


def test_keras_file_with_custom_layers_loads_in_a_fresh_process(tmp_path):
    """A .keras model whose layers are kpose's own (ViT's position embedding, attention) loads
    in a process that has built no model (kpose registers every family's layers first)."""
    import subprocess
    import sys

    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig

    arch = {"embed_dims": 32, "num_layers": 1, "num_heads": 4, "feedforward_channels": 64}
    cfg = ModelConfig("vit", {"arch": arch, "img_size": [64, 48]}, head=HeadConfig((8, 8), (4, 4)))
    model = build_heatmap_model(cfg, (48, 64), 3)
    path = tmp_path / "tiny_vit.keras"
    model.save(path)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 48, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", np.asarray(model(images)))
    code = (
        "import numpy as np; from kpose.weights.load import load_keras_model; "
        f"m = load_keras_model(r'{path}', (48, 64), 3); "
        f"d = np.abs(np.asarray(m(np.load(r'{tmp_path / 'images.npy'}'))) "
        f"- np.load(r'{tmp_path / 'expected.npy'}')).max(); print('DIFF', d)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split("DIFF")[-1]) < 1e-5


def test_backbone_weights_fill_the_backbone_and_report_the_rest():
    """MMPose's backbone init_cfg=Pretrained: a classification checkpoint with backbone-relative
    keys (and a classifier) fills the backbone only."""
    from kpose.errors import ModelError
    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig
    from kpose.weights.load import load_backbone_weights
    from kpose.weights.state_dict import model_state_dict

    cfg = ModelConfig(
        "resnet18", {"base_channels": 8, "stem_channels": 8}, head=HeadConfig((8,), (4,))
    )
    source = build_heatmap_model(cfg, (32, 64), 3)
    target = build_heatmap_model(cfg, (32, 64), 3)
    imagenet = {
        k.removeprefix("backbone."): v
        for k, v in model_state_dict(source).items()
        if k.startswith("backbone.") and "layer4" not in k
    }
    imagenet["fc.weight"] = np.zeros((1000, 64), np.float32)
    head_before = model_state_dict(target)["head.final_layer.weight"]
    result = load_backbone_weights(
        target, {f"model.{k}": v for k, v in imagenet.items()}, prefix="model."
    )
    after = model_state_dict(target)
    np.testing.assert_array_equal(
        after["backbone.layer1.0.conv1.weight"], imagenet["layer1.0.conv1.weight"]
    )
    np.testing.assert_array_equal(after["head.final_layer.weight"], head_before)
    assert result.unexpected_keys == ["backbone.fc.weight"]
    assert result.missing_keys and all(".layer4." in k for k in result.missing_keys)
    with pytest.raises(ModelError, match="no tensor matches the backbone"):
        load_backbone_weights(target, {"encoder.w": np.zeros(3, np.float32)})
