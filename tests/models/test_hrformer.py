"""MMPose's HRFormer in Keras: shapes, the window padding, drop-path schedule, state-dict and
file round trips, XLA and mixed precision (on a tiny variant); the real variants' sizes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.errors import ModelError
from kpose.models.backbones.hrformer import (
    CenterCropLike,
    WindowCenterPad,
    hrformer,
    hrformer_base,
    hrformer_module,
    hrformer_small,
)
from kpose.models.backbones.swin import relative_position_index
from kpose.weights.state_dict import assign_state_dict, model_state_dict

TINY = {
    "num_channels": (8, 16, 16, 32),
    "num_heads": (1, 2, 2, 4),
    "num_modules": (1, 1, 1),
    "num_blocks": (1, 1, 1),
    "mlp_ratios": (2, 2, 2, 2),
    "stage1_blocks": 1,
    "stage1_channels": 8,
    "stem_channels": 16,
}


@pytest.fixture(scope="module")
def backbone():
    return hrformer(**TINY)


def _images(height=96, width=64, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, (2, height, width, 3)).astype(np.float32)


def _module_model(with_rpe=True, upsample_mode="bilinear"):
    """One two-branch HRFormer module (24x16x8 and 12x8x16 maps, both padded to windows of 7)
    fusing into both branches: every op the backbone adds to HRNet's."""
    inputs = [keras.Input((24, 16, 8)), keras.Input((12, 8, 16))]
    outputs = hrformer_module(
        inputs, 1, (1, 2), (7, 7), (2, 2), (0.0,), "m", with_rpe=with_rpe,
        upsample_mode=upsample_mode,
    )  # fmt: skip
    return keras.Model(inputs, outputs)


def _module_inputs():
    rng = np.random.default_rng(0)
    return [rng.normal(size=s).astype(np.float32) for s in ((2, 24, 16, 8), (2, 12, 8, 16))]


def test_output_shapes(backbone):
    # Maps 24x16, 12x8, 6x4, 3x2: every branch is padded to windows of 7.
    assert backbone(_images()).shape == (2, 24, 16, 8)
    assert backbone(_images(128, 96)).shape == (2, 32, 24, 8)


def test_small_variant():
    with keras.StatelessScope():  # shapes only: the variables are not allocated
        model = hrformer_small()
    assert model.output.shape[-1] == 32
    # MMPose 1.3.2: sum of p.numel() over HRFormer(**cfg.model.backbone).parameters() for
    # coco/td-hm_hrformer-small_8xb32-210e_coco-256x192.py (the buffers left out).
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 7_746_218
    # Stochastic depth rises over the 2 * (1 + 4 + 2) blocks of a branch, module by module.
    rates = np.linspace(0, 0.1, 14)
    for key, rate in [
        ("stage2.0.branches.0.0", rates[0]),
        ("stage2.0.branches.1.1", rates[1]),
        ("stage3.3.branches.2.0", rates[8]),
        ("stage4.1.branches.3.1", rates[13]),
    ]:
        for part in ("attn", "ffn"):
            layer = model.get_layer(f"backbone.{key}.{part}_drop_path")
            assert layer.rate == pytest.approx(rate)


@pytest.mark.slow
def test_base_variant():
    model = hrformer_base()
    assert model.output.shape[-1] == 78
    # MMPose 1.3.2, as above for td-hm_hrformer-base_8xb32-210e_coco-256x192.py.
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 43_210_434


def test_window_center_pad_and_crop():
    x = np.arange(10 * 6, dtype="float32").reshape(1, 10, 6, 1)
    padded = np.asarray(WindowCenterPad(7)(x))
    assert padded.shape == (1, 14, 7, 1)  # pad 4 rows (2 above, 2 below), 1 column right
    np.testing.assert_array_equal(padded[0, 2:12, :6, 0], x[0, :, :, 0])
    assert not padded[0, :2].any() and not padded[0, 12:].any() and not padded[0, :, 6].any()
    np.testing.assert_array_equal(np.asarray(CenterCropLike()([padded, x])), x)
    assert np.asarray(WindowCenterPad(7)(np.ones((1, 14, 7, 2), "float32"))).shape == (1, 14, 7, 2)


def test_relative_position_index_is_mmposes():
    # MMPose's construction: coords i * (2w - 1) + j, summed over token pairs, flipped on axis 1.
    w = 7
    coords = (np.arange(w)[:, None] * (2 * w - 1) + np.arange(w)[None, :]).reshape(1, -1)
    expected = np.flip(coords + coords.T, axis=1)
    np.testing.assert_array_equal(relative_position_index(w), expected)


def test_state_dict_and_keras_file_round_trip(backbone, tmp_path):
    images = _images()
    expected = np.asarray(backbone(images, training=False))
    state = model_state_dict(backbone)
    key = "backbone.stage4.0.branches.3.0.attn.attn.relative_position_index"
    assert state[key].dtype == np.int64
    np.testing.assert_array_equal(state[key], relative_position_index(7))
    # Branch 0 -> 2: two links of depthwise 3x3 stride 2 + BN + 1x1 conv + BN (+ ReLU).
    assert state["backbone.stage3.0.fuse_layers.2.0.0.0.weight"].shape == (8, 1, 3, 3)
    assert state["backbone.stage3.0.fuse_layers.2.0.1.2.weight"].shape == (16, 8, 1, 1)
    assert state["backbone.stage2.0.branches.0.0.ffn.dw3x3.weight"].shape == (16, 1, 3, 3)

    backbone.save(tmp_path / "hrformer.keras")
    loaded = keras.saving.load_model(tmp_path / "hrformer.keras")
    np.testing.assert_allclose(np.asarray(loaded(images, training=False)), expected, atol=1e-6)
    assign_state_dict(loaded, state, strict=True)  # every MMPose name is taken
    np.testing.assert_array_equal(np.asarray(loaded(images, training=False)), expected)


def test_xla_and_mixed_precision():
    model = _module_model()
    inputs = _module_inputs()
    expected = [np.asarray(y) for y in model(inputs, training=False)]
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    for y, e in zip(compiled(inputs), expected, strict=True):
        np.testing.assert_allclose(np.asarray(y), e, atol=1e-4 * np.abs(e).max())

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = _module_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assign_state_dict(half, model_state_dict(model), strict=True)
    for y, e in zip(half(inputs, training=False), expected, strict=True):
        assert y.dtype == "float16"
        np.testing.assert_allclose(np.asarray(y, np.float32), e, atol=2e-2 * np.abs(e).max())


def test_without_rpe_has_no_bias_table():
    model = _module_model(with_rpe=False, upsample_mode="nearest")
    assert not any("relative_position" in k for k in model_state_dict(model))
    assert [tuple(y.shape) for y in model(_module_inputs())] == [(2, 24, 16, 8), (2, 12, 8, 16)]


def test_bad_arguments():
    with pytest.raises(ModelError, match="num_heads"):
        hrformer(num_heads=(1, 2, 4))
    with pytest.raises(ModelError, match="divisible"):
        hrformer(num_channels=(32, 64, 128, 250))
    with pytest.raises(ModelError, match="upsample_mode"):
        hrformer(upsample_mode="bicubic")
    with pytest.raises(ModelError, match="num_modules"):
        hrformer(num_modules=(1, 4))
