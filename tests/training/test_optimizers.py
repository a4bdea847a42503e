"""ViTPose's parameter groups (layer-wise LR decay, no-decay mask) and GroupedAdamW's update."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.training.optimizers import GroupedAdamW, layer_decay_groups, vit_layer_id
from kpose.weights.state_dict import parameter_names

TINY = {"embed_dims": 64, "num_layers": 2, "num_heads": 4, "feedforward_channels": 128}


@pytest.fixture(scope="module")
def vitpose():
    cfg = ModelConfig("vit", {"arch": TINY, "img_size": [96, 64]}, head=HeadConfig((32,), (4,)))
    return build_heatmap_model(cfg, (64, 96), 17)


def test_vit_layer_ids():
    assert vit_layer_id("backbone.pos_embed", 12) == 0
    assert vit_layer_id("backbone.patch_embed.projection.weight", 12) == 0
    assert vit_layer_id("backbone.layers.0.attn.qkv.weight", 12) == 1
    assert vit_layer_id("backbone.layers.11.ffn.layers.1.bias", 12) == 12
    assert vit_layer_id("backbone.ln1.weight", 12) == 13
    assert vit_layer_id("head.final_layer.weight", 12) == 13


def test_layer_decay_multipliers_and_decay_mask(vitpose):
    groups = layer_decay_groups(vitpose, num_layers=2, rate=0.8)
    assert set(groups) == {v.path for v in vitpose.trainable_variables}
    expected = {  # N = 4: lr scale 0.8 ** (3 - layer)
        "backbone.patch_embed.projection/kernel": (0.8**3, True),
        "backbone.patch_embed.projection/bias": (0.8**3, False),
        "backbone.pos_embed/pos_embed": (0.8**3, False),
        "backbone.layers.0.ln1/gamma": (0.8**2, False),
        "backbone.layers.0.attn.qkv/kernel": (0.8**2, True),
        "backbone.layers.0.attn.qkv/bias": (0.8**2, False),
        "backbone.layers.1.ffn.layers.1/kernel": (0.8, True),
        "backbone.ln1/beta": (1.0, False),
        "head.deconv_layers.0/kernel": (1.0, True),
        "head.deconv_layers.1/gamma": (1.0, False),
        "head.final_layer/kernel": (1.0, True),
        "head.final_layer/bias": (1.0, False),
    }
    for path, (mult, decay) in expected.items():
        assert groups[path][0] == pytest.approx(mult), path
        assert groups[path][1] is decay, path


def test_grouped_adamw_is_pytorch_adamw_per_group():
    """Two variables, multipliers 1 and 0.5, decay on / off: three steps of PyTorch's AdamW
    (decay, then Adam with bias corrections), written out in numpy."""
    a = keras.Variable(np.array([1.0, -2.0], np.float32), name="a")
    b = keras.Variable(np.array([0.5], np.float32), name="b")
    opt = GroupedAdamW(0.1, weight_decay=0.2, groups={a.path: (1.0, True), b.path: (0.5, False)})
    grads = [np.array([0.3, -0.1], np.float32), np.array([2.0], np.float32)]
    expected = []
    for var, (mult, decay), g in ((a, (1.0, True), grads[0]), (b, (0.5, False), grads[1])):
        w, m, v = var.numpy().astype(np.float64), 0.0, 0.0
        lr = 0.1 * mult
        for t in range(1, 4):
            if decay:
                w = w - lr * 0.2 * w
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        expected.append(w)
    for _ in range(3):
        opt.apply([keras.ops.convert_to_tensor(g) for g in grads], [a, b])
    # float32 bias corrections (1 - 0.999 ** t loses ~5 digits) give ~1e-6 per step.
    np.testing.assert_allclose(a.numpy(), expected[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(b.numpy(), expected[1], rtol=0, atol=1e-5)
    # without the decay and at half the rate, b moved half as far per step as a plain Adam would
    assert abs(b.numpy()[0] - 0.5) == pytest.approx(3 * 0.05, rel=1e-3)


def test_grouped_adamw_serialises():
    opt = GroupedAdamW(
        1e-3, weight_decay=0.1, groups={"x/kernel": (0.5, False)}, global_clipnorm=1.0
    )
    again = GroupedAdamW.from_config(opt.get_config())
    assert again.groups == {"x/kernel": (0.5, False)}
    assert again.decoupled_weight_decay == 0.1 and again.global_clipnorm == 1.0


def test_no_decay_keys_like_mmpose_custom_keys():
    from kpose.training.optimizers import no_decay_groups

    cfg = ModelConfig(
        "swin",
        {
            "arch": {"embed_dims": 16, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]},
            "img_size": [64, 64],
        },
        head=HeadConfig((), ()),
    )
    model = build_heatmap_model(cfg, (64, 64), 17)
    groups = no_decay_groups(model, ("absolute_pos_embed", "relative_position_bias_table", "norm"))
    names = parameter_names(model)
    for path, (mult, decay) in groups.items():
        name = names[path]
        assert mult == 1.0
        assert decay is not ("relative_position_bias_table" in name or "norm" in name), name
    assert any(not d for _, d in groups.values()) and any(d for _, d in groups.values())
