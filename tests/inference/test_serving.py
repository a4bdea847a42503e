"""Exports (``kpose.inference.serving``, ``python -m kpose.export``): the serving SavedModel
(loaded in a fresh Python that never imports kpose, and by ``saved_model_cli``) against
``PoseEstimator.predict``; ONNX and TFLite heatmap models against Keras, for a CNN and a
transformer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import kpose
from kpose.export import main
from kpose.inference.estimator import PoseEstimator
from kpose.inference.serving import export_onnx, export_saved_model, export_tflite
from kpose.recipe import replace

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
TINY_VIT = [
    "model.backbone=vit",
    "data.dataset=coco",
    "codec.type=udp",
    "codec.input_size=[64,96]",
    "codec.heatmap_size=[16,24]",
    "model.backbone_args={arch: {embed_dims: 32, num_layers: 2, num_heads: 4, "
    "feedforward_channels: 64}, img_size: [96, 64]}",
    "model.head.deconv_out_channels=[32,32]",
    "model.head.deconv_kernel_sizes=[4,4]",
]

_FRESH = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
serve = model.signatures["serving_default"]
images = [open(p, "rb").read() for p in json.loads(sys.argv[2])]
boxes = np.load(sys.argv[3])
out = serve(image_bytes=tf.constant(images), boxes=tf.constant(boxes))
np.savez(sys.argv[4], keypoints=out["keypoints"].numpy(), scores=out["scores"].numpy())
print(json.dumps({"kpose_imported": any(m.startswith("kpose") for m in sys.modules)}))
"""


def _randomized(recipe) -> PoseEstimator:
    estimator = PoseEstimator.from_recipe(recipe)
    rng = np.random.default_rng(0)
    for variable in estimator.heatmap_model.weights:
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype(np.float32))
        else:
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(np.float32))
    return estimator


@pytest.fixture(scope="module")
def quickstart():
    return _randomized(kpose.load_recipe_for(str(QUICKSTART)))


@pytest.fixture(scope="module")
def images(samples, tmp_path_factory):
    """A JPEG and a PNG (re-encoded from another sample JPEG, another size)."""
    jpeg = samples / "coco" / "000000000785.jpg"
    png = tmp_path_factory.mktemp("img") / "other.png"
    cv2.imwrite(str(png), cv2.imread(str(samples / "coco" / "000000040083.jpg")))
    return [jpeg, png]


def test_saved_model_serves_like_predict(quickstart, images, tmp_path):
    export = export_saved_model(quickstart, tmp_path / "pose" / "1")
    boxes = np.zeros((2, 3, 4), np.float32)  # all-zero rows are padding
    boxes[0, 0] = [120, 40, 420, 420]
    boxes[0, 2] = [10, 20, 200, 300]
    boxes[1, 1] = [50, 30, 300, 330]
    np.save(tmp_path / "boxes.npy", boxes)
    out = tmp_path / "out.npz"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _FRESH,
            str(export),
            json.dumps([str(p) for p in images]),
            str(tmp_path / "boxes.npy"),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"kpose_imported": False}
    served = np.load(out)
    k = quickstart.dataset_info.num_keypoints
    assert served["keypoints"].shape == (2, 3, k, 2) and served["scores"].shape == (2, 3, k)
    assert not served["keypoints"][0, 1].any() and not served["scores"][1, 0].any()
    for i, rows in ((0, [0, 2]), (1, [1])):
        expected = quickstart.predict(str(images[i]), boxes[i, rows])
        np.testing.assert_allclose(
            served["keypoints"][i, rows], expected["keypoints"], rtol=0, atol=1e-3
        )
        np.testing.assert_allclose(
            served["scores"][i, rows], expected["scores"], rtol=1e-4, atol=1e-4
        )

    # saved_model_cli, TensorFlow's own command line, runs the same signature
    np.save(
        tmp_path / "bytes.npy", np.array([images[0].read_bytes()], dtype=object), allow_pickle=True
    )
    np.save(tmp_path / "boxes1.npy", boxes[:1])
    cli = Path(sys.executable).with_name("saved_model_cli")
    proc = subprocess.run(
        [
            str(cli),
            "run",
            "--dir",
            str(export),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"image_bytes={tmp_path / 'bytes.npy'};boxes={tmp_path / 'boxes1.npy'}",
            "--outdir",
            str(tmp_path / "cli"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(
        np.load(tmp_path / "cli" / "keypoints.npy"), served["keypoints"][:1], rtol=0, atol=1e-3
    )


def _estimator_and_crops(which, quickstart):
    estimator = (
        quickstart
        if which == "cnn"
        else _randomized(replace(kpose.load_recipe_for(str(QUICKSTART)), TINY_VIT))
    )
    width, height = estimator.input_size
    crops = np.random.default_rng(1).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    expected = np.asarray(estimator.heatmap_model(crops, training=False))
    return estimator, crops, expected, max(1.0, float(np.abs(expected).max()))


@pytest.mark.parametrize("which", ["cnn", "transformer"])
def test_onnx_matches_keras(which, quickstart, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    estimator, crops, expected, scale = _estimator_and_crops(which, quickstart)
    session = ort.InferenceSession(
        str(export_onnx(estimator, tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    (got,) = session.run(None, {session.get_inputs()[0].name: crops})
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * scale)


@pytest.mark.parametrize("which", ["cnn", "transformer"])
def test_tflite_matches_keras(which, quickstart, tmp_path):
    import tensorflow as tf

    estimator, crops, expected, scale = _estimator_and_crops(which, quickstart)
    interpreter = tf.lite.Interpreter(
        model_path=str(export_tflite(estimator, tmp_path / "m.tflite"))
    )
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    for n in range(2):
        interpreter.set_tensor(inp["index"], crops[n : n + 1])
        interpreter.invoke()
        np.testing.assert_allclose(
            interpreter.get_tensor(out["index"])[0], expected[n], rtol=0, atol=1e-4 * scale
        )


def test_cli_errors(tmp_path, capsys):
    assert (
        main(
            [
                "quickstart",
                "--format",
                "tflite",
                "--out",
                str(tmp_path / "x"),
                "--weights",
                str(tmp_path / "missing.pth"),
            ]
        )
        == 2
    )
    assert "missing.pth: file not found" in capsys.readouterr().err


_FRESH_DETECT = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = [open(p, "rb").read() for p in json.loads(sys.argv[2])]
out = model.signatures["serving_default"](image_bytes=tf.constant(images))
np.savez(sys.argv[3], **{k: v.numpy() for k, v in out.items()})
print(json.dumps({"kpose_imported": any(m.startswith("kpose") for m in sys.modules)}))
"""


def _random_detector():
    from kpose.detection.rtmdet import RTMDetDetector, RTMDetTestConfig, build_rtmdet

    keras.utils.set_random_seed(3)
    model = build_rtmdet("tiny", num_classes=1, input_size=320)
    rng = np.random.default_rng(3)
    for variable in model.weights:  # spread the scores, give the boxes a size
        if "rtm_cls" in variable.path and "kernel" in variable.path:
            variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
        elif "rtm_reg" in variable.path and "bias" in variable.path:
            variable.assign(np.full(variable.shape, 3.0, np.float32))
    detector = RTMDetDetector(
        model,
        score_thr=0.0,  # random weights: keep what the random head gives
        max_boxes=4,
        test_cfg=RTMDetTestConfig(score_thr=0.0),
    )
    return detector


def test_detecting_function_finds_and_estimates_like_predict(quickstart, images):
    """The fast sibling of the SavedModel test below (no save, same graph function)."""
    from kpose.inference.serving import detecting_function

    detector = _random_detector()
    served = detecting_function(quickstart, detector)(tf.constant([images[0].read_bytes()]))
    quickstart.detector = detector
    try:
        expected = quickstart.predict(str(images[0]))
    finally:
        quickstart.detector = None
    n = len(expected["boxes"])
    assert int(served["num_people"][0]) == n >= 1
    np.testing.assert_allclose(served["boxes"][0, :n], expected["boxes"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(served["keypoints"][0, :n], expected["keypoints"], rtol=0, atol=1e-3)


@pytest.mark.slow  # ~2 min: saving the detector's graph dominates
def test_saved_model_with_a_detector_answers_image_bytes_alone(quickstart, images, tmp_path):
    detector = _random_detector()
    export = export_saved_model(quickstart, tmp_path / "pose" / "1", detector)
    out = tmp_path / "out.npz"
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH_DETECT, str(export), json.dumps([str(p) for p in images]),
         str(out)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"kpose_imported": False}
    served = np.load(out)
    quickstart.detector = detector
    try:
        expected = quickstart.predict([str(p) for p in images])
    finally:
        quickstart.detector = None
    assert served["num_people"].tolist() == [len(e["boxes"]) for e in expected]
    assert served["num_people"].min() >= 1
    for i, people in enumerate(expected):
        n = len(people["boxes"])
        np.testing.assert_allclose(served["boxes"][i, :n], people["boxes"], rtol=0, atol=1e-3)
        np.testing.assert_allclose(served["box_scores"][i, :n], people["box_scores"], atol=1e-5)
        np.testing.assert_allclose(
            served["keypoints"][i, :n], people["keypoints"], rtol=0, atol=1e-3
        )
        assert not served["box_scores"][i, n:].any()  # padding rows
    with_boxes = tf.saved_model.load(str(export)).signatures["with_boxes"]
    got = with_boxes(
        image_bytes=tf.constant([images[0].read_bytes()]),
        boxes=tf.constant(expected[0]["boxes"][None]),
    )
    np.testing.assert_allclose(got["keypoints"][0], expected[0]["keypoints"], rtol=0, atol=1e-3)


def test_export_cli_puts_a_detector_preset_in_the_saved_model(tmp_path, monkeypatch, capsys):
    assert main(["quickstart", "--format", "onnx", "--detector", "rtmdet-m-person",
                 "--out", str(tmp_path / "m.onnx")]) == 2  # fmt: skip
    assert "SavedModel only" in capsys.readouterr().err
