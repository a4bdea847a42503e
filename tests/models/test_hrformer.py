"""MMPose's HRFormer in Keras: shapes, the window padding, drop-path schedule, state-dict and
file round trips, XLA and mixed precision (on a tiny variant); the real variants' sizes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.hrformer import (
    hrformer,
    hrformer_base,
    hrformer_module,
    hrformer_small,
)
from kpose.models.layers import relative_position_index
from kpose.weights.state_dict import model_state_dict

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


def test_state_dict_holds_mmposes_window_and_fuse_tensors(backbone):
    state = model_state_dict(backbone)
    key = "backbone.stage4.0.branches.3.0.attn.attn.relative_position_index"
    assert state[key].dtype == np.int64
    np.testing.assert_array_equal(state[key], relative_position_index(7))
    # Branch 0 -> 2: two links of depthwise 3x3 stride 2 + BN + 1x1 conv + BN (+ ReLU).
    assert state["backbone.stage3.0.fuse_layers.2.0.0.0.weight"].shape == (8, 1, 3, 3)
    assert state["backbone.stage3.0.fuse_layers.2.0.1.2.weight"].shape == (16, 8, 1, 1)
    assert state["backbone.stage2.0.branches.0.0.ffn.dw3x3.weight"].shape == (16, 1, 3, 3)


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
