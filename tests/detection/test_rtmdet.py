"""RTMDet (``kpose.detection.rtmdet``): mmdet's parameter count and state-dict keys, ``.pth`` and
``.keras`` round trips, OpenCV's resize redone in TF, and the detector protocol on random
weights. mmdet itself is compared in ``tests/parity/test_rtmdet_parity.py``."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.detection.base import GraphDetector
from kpose.detection.rtmdet import RTMDetDetector, build_rtmdet, cv2_resize_linear
from kpose.errors import DataError, ModelError
from kpose.weights.state_dict import model_state_dict
from tests.weights.torch_files import write_torch_state_dict

SIZE = 320  # the detector tests' input (tiny, random weights)


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _randomize(model, seed: int = 0) -> None:
    """Unit-scale random weights and BN statistics, so that scores and boxes vary."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape, path = tuple(variable.shape), variable.path
        if "moving_variance" in path:
            value = rng.uniform(0.5, 1.5, shape)
        elif "gamma" in path:
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) > 1:
            value = rng.normal(0.0, np.prod(shape[:-1]) ** -0.5, shape)
        else:
            value = rng.normal(0.0, 0.2, shape)
        variable.assign(value.astype(np.float32))


@pytest.fixture(scope="module")
def detector():
    model = build_rtmdet("tiny", input_size=SIZE)
    _randomize(model)
    return RTMDetDetector(model, score_thr=0.3, nms_thr=0.3)


def test_rtmdet_m_has_mmdets_parameters_and_keys():
    # Measured with mmdet 3.3 in the MMPose reference env: MODELS.build of MMPose's
    # demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-person.py (backbone init_cfg=None),
    # sum(p.numel() for p in model.parameters()) (the shared head convs counted once).
    model = build_rtmdet("m")
    assert _trainable(model) == 24_663_447
    keys = model_state_dict(model)
    assert len(keys) == 580  # mmdet's state dict without its num_batches_tracked buffers
    for key in (
        "backbone.stem.0.conv.weight",
        "backbone.stage4.2.attention.fc.bias",
        "neck.reduce_layers.0.conv.weight",
        "neck.top_down_blocks.1.blocks.1.conv2.depthwise_conv.bn.running_var",
        "neck.out_convs.2.bn.bias",
        "bbox_head.rtm_cls.0.weight",
        "bbox_head.rtm_reg.2.bias",
        "bbox_head.cls_convs.2.1.bn.running_var",
    ):
        assert key in keys, key
    assert keys["neck.reduce_layers.0.conv.weight"].shape == (384, 768, 1, 1)
    # share_conv: every level's conv is level 0's tensor, each level has its own BN
    np.testing.assert_array_equal(
        keys["bbox_head.reg_convs.2.0.conv.weight"], keys["bbox_head.reg_convs.0.0.conv.weight"]
    )
    assert _trainable(build_rtmdet("tiny", input_size=64)) == 4_873_179  # mmdet's tiny, 1 class


def test_pth_round_trip_and_misfit(tmp_path):
    model = build_rtmdet("tiny", input_size=64)
    _randomize(model, seed=1)
    state = model_state_dict(model)
    path = write_torch_state_dict(tmp_path / "rtmdet_tiny.pth", state)
    loaded = RTMDetDetector.from_checkpoint(path, "tiny", input_size=64).model
    for key, value in model_state_dict(loaded).items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    for mine, expected in zip(
        keras.tree.flatten(loaded(images)), keras.tree.flatten(model(images)), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(expected))
    partial = {k: v for k, v in state.items() if not k.startswith("bbox_head.rtm_cls.1")}
    with pytest.raises(ModelError, match="missing: bbox_head.rtm_cls.1.bias"):
        RTMDetDetector.from_checkpoint(
            write_torch_state_dict(tmp_path / "bad.pth", partial), "tiny"
        )


def test_keras_file_round_trip(tmp_path):
    model = build_rtmdet("tiny", input_size=64)
    _randomize(model, seed=2)
    model.save(tmp_path / "rtmdet_tiny.keras")
    loaded = keras.saving.load_model(tmp_path / "rtmdet_tiny.keras")
    images = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    for mine, expected in zip(
        keras.tree.flatten(loaded(images)), keras.tree.flatten(model(images)), strict=True
    ):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(expected), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "height, width",
    # downscale, upscale (border rows), exact halving (OpenCV averages 2x2), 3x, same size, thin
    [(600, 900), (333, 500), (100, 37), (720, 1280), (1080, 1920), (640, 427), (1400, 5)],
)
def test_resize_equals_opencv(height, width):
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    scale = 640 / max(height, width)
    new_w, new_h = int(width * scale + 0.5), int(height * scale + 0.5)
    expected = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(cv2_resize_linear(image, new_h, new_w).numpy(), expected)


def test_detector_boxes(detector):
    assert isinstance(detector, GraphDetector)
    square = np.random.default_rng(3).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    boxes = detector(square)
    assert boxes.dtype == np.float32 and boxes.ndim == 2 and boxes.shape[1] == 5
    assert len(boxes) > 0
    assert np.all(np.diff(boxes[:, 4]) <= 0) and np.all(boxes[:, 4] > 0.3)
    assert np.all(boxes[:, :4] >= 0) and np.all(boxes[:, :4] <= 160)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    # mmdet clips to the padded input: a wide image's boxes stay in its rescaled canvas
    wide = np.random.default_rng(4).integers(0, 256, (200, 400, 3), dtype=np.uint8)
    boxes = detector(wide)
    assert np.all(boxes[:, :4] >= 0) and np.all(boxes[:, [0, 2]] <= 400)
    assert np.all(boxes[:, [1, 3]] <= 400)


def test_detect_graph_in_tf_function_equals_call(detector):
    image = np.random.default_rng(5).integers(0, 256, (240, 180, 3), dtype=np.uint8)

    @tf.function(input_signature=[tf.TensorSpec((None, None, 3), tf.uint8)])
    def serve(x):
        return detector.detect_graph(x)

    np.testing.assert_array_equal(serve(tf.constant(image)).numpy(), detector(image))


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((32, 32, 3), np.float32), "uint8 RGB"),
        (np.zeros((32, 32), np.uint8), r"\(32, 32\)"),
        (np.zeros((32, 32, 4), np.uint8), r"\(32, 32, 4\)"),
        (np.zeros((0, 32, 3), np.uint8), "empty"),
        ([[0, 0, 0]], "numpy array"),
    ],
)
def test_bad_images_raise_data_error(detector, image, message):
    with pytest.raises(DataError, match=message):
        detector(image)


def test_bad_tensor_and_arguments_raise(detector):
    with pytest.raises(DataError, match="float32"):
        detector.detect_graph(tf.zeros((8, 8, 3)))
    with pytest.raises(ModelError, match="arch"):
        build_rtmdet("q")
    with pytest.raises(ModelError, match="multiple of 32"):
        build_rtmdet("tiny", input_size=100)
