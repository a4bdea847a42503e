"""Heatmap models: shapes, MMPose layer names and parameter counts, weight mapping, saving."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from kpose.errors import ModelError, RecipeError
from kpose.models.build import build_heatmap_model
from kpose.models.heads.cpm import cpm_head
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict, weighted_layers

K = 17
# MMPose 1.3.2 keys and shapes of the two small models below (the fast parity cases of
# tests/parity/test_models_parity.py), generated with the reference.
MMPOSE_SHAPES = json.loads((Path(__file__).parent / "mmpose_state_dict_shapes.json").read_text())
SMALL_MODELS = {
    "resnet18_head_variants": ModelConfig(
        "resnet18", head=HeadConfig((32, 32, 32), (4, 3, 2), (16,), (3,), 3)
    ),
    "hrnet_tiny": ModelConfig(
        "hrnet",
        {
            "width": 8,
            "num_modules": (1, 2, 2),
            "num_blocks": (1, 1, 1),
            "stage1_blocks": 1,
            "stage1_channels": 8,
        },
        head=HeadConfig((), ()),
    ),
}
INPUT_SIZE = (64, 96)  # (w, h)


def _images(batch: int = 2, input_size=INPUT_SIZE, seed: int = 0) -> np.ndarray:
    width, height = input_size
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype(np.float32)


def _randomize(model: keras.Model, seed: int) -> None:
    """Non-trivial BN statistics (fresh models have mean 0 / var 1)."""
    rng = np.random.default_rng(seed)
    for layer in weighted_layers(model):
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "moving_variance" in variable.path:
                variable.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
            else:
                variable.assign(rng.normal(0, 0.1, shape).astype(np.float32))


@pytest.mark.parametrize(
    "model_cfg",
    [
        SMALL_MODELS["resnet18_head_variants"],
        SMALL_MODELS["hrnet_tiny"],
        ModelConfig("hrnet_small", head=HeadConfig((), ())),
        ModelConfig("resnet18", head=HeadConfig((64, 64, 64), (4, 4, 4))),
        ModelConfig("resnet18", head=HeadConfig((), (), final_kernel_size=3, upsample_factor=8.0)),
    ],
    ids=["resnet18_head_variants", "hrnet_tiny", "hrnet_small", "resnet18", "resnet18_simple"],
)
def test_output_is_stride_4_float32_heatmaps(model_cfg):
    model = build_heatmap_model(model_cfg, INPUT_SIZE, K)
    heatmaps = model(_images(3), training=False)
    assert tuple(heatmaps.shape) == (3, 96 // 4, 64 // 4, K)
    assert keras.backend.standardize_dtype(heatmaps.dtype) == "float32"
    assert model.input_shape == (None, 96, 64, 3)


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_layer_names_and_shapes_are_mmpose_state_dict(name):
    model = build_heatmap_model(SMALL_MODELS[name], INPUT_SIZE, K)
    expected = {
        k: tuple(v)
        for k, v in MMPOSE_SHAPES[name].items()
        if not k.endswith(".num_batches_tracked")
    }
    got = {k: v.shape for k, v in model_state_dict(model).items()}
    assert got == expected
    modules = {key.rsplit(".", 1)[0] for key in expected}
    assert {layer.name for layer in weighted_layers(model)} == modules
    zeros = {k: np.zeros(v, np.float32) for k, v in MMPOSE_SHAPES[name].items()}
    assert assign_state_dict(model, zeros, strict=True).missing_keys == []


def _trainable_params(model: keras.Model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_parameter_counts_equal_mmpose():
    # sum(p.numel() for p in model.parameters()) of MMPose 1.3.2's models built from
    # coco/td-hm_res50_8xb64-210e_coco-256x192.py and
    # coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py (computed with the reference venv).
    resnet50 = build_heatmap_model(ModelConfig("resnet50"), (192, 256), K)
    assert _trainable_params(resnet50) == 33_999_697
    hrnet_w32 = build_heatmap_model(
        ModelConfig("hrnet_w32", head=HeadConfig((), ())), (192, 256), K
    )
    assert _trainable_params(hrnet_w32) == 28_536_113


def test_normalisation_is_inside_and_has_no_weights():
    cfg = SMALL_MODELS["resnet18_head_variants"]
    model = build_heatmap_model(cfg, INPUT_SIZE, K)
    layer = model.get_layer("normalize")
    assert layer.weights == []
    images = _images(1)
    np.testing.assert_allclose(
        np.asarray(layer(images)),
        (images - np.array(cfg.mean, np.float32)) / np.array(cfg.std, np.float32),
        rtol=1e-6,
    )


def test_assign_state_dict_names_missing_unexpected_and_misshaped():
    model = build_heatmap_model(SMALL_MODELS["resnet18_head_variants"], INPUT_SIZE, K)
    state = model_state_dict(model)
    before = {k: v.copy() for k, v in state.items()}
    state["head.final_layer.bias"] = np.ones(K, np.float32)
    del state["backbone.layer2.0.downsample.1.running_var"]
    state["head.extra.weight"] = np.zeros(3, np.float32)
    state["backbone.conv1.weight"] = np.zeros((64, 3, 3, 3), np.float32)
    state["backbone.bn1.num_batches_tracked"] = np.array(5)  # ignored

    with pytest.raises(ModelError) as err:
        assign_state_dict(model, state)
    message = str(err.value)
    assert "1 missing: backbone.layer2.0.downsample.1.running_var" in message
    assert "1 unexpected: head.extra.weight" in message
    assert "backbone.conv1.weight: checkpoint (64, 3, 3, 3), model (64, 3, 7, 7)" in message
    # Nothing was assigned.
    np.testing.assert_array_equal(
        model_state_dict(model)["head.final_layer.bias"], before["head.final_layer.bias"]
    )

    with pytest.raises(ModelError, match="mis-shaped"):  # shapes are checked even if not strict
        assign_state_dict(model, state, strict=False)
    state["backbone.conv1.weight"] = before["backbone.conv1.weight"]
    result = assign_state_dict(model, state, strict=False)
    assert result.missing_keys == ["backbone.layer2.0.downsample.1.running_var"]
    assert result.unexpected_keys == ["head.extra.weight"]
    np.testing.assert_array_equal(model_state_dict(model)["head.final_layer.bias"], np.ones(K))


def test_bad_backbone_name_or_args_raise_model_or_recipe_error():
    with pytest.raises(ModelError, match="unknown backbone 'resnet7'.*'resnet18'"):
        build_heatmap_model(ModelConfig("resnet7"), INPUT_SIZE, K)
    with pytest.raises(RecipeError, match=r"backbone_args\.widht.*'hrnet_w32'.*'num_modules'"):
        build_heatmap_model(ModelConfig("hrnet_w32", {"widht": 16}), INPUT_SIZE, K)
    with pytest.raises(ModelError, match="deconv kernel sizes"):
        build_heatmap_model(ModelConfig("resnet18", head=HeadConfig((8,), (5,))), INPUT_SIZE, K)
    with pytest.raises(ModelError, match="head.type: unknown head 'simcc'"):
        build_heatmap_model(ModelConfig("resnet18", head=HeadConfig(type="simcc")), INPUT_SIZE, K)


def test_cpm_head_maps_each_stage_and_all_stages_returns_them_in_order():
    """CPMHead on a two-stage feature list: a deconv + 1x1 conv per stage, own weights each."""
    inputs = keras.Input((8, 6, 3))
    stages = [keras.layers.Conv2D(c, 1, name=f"s{i}")(inputs) for i, c in enumerate((4, 5))]
    head = cpm_head([4, 5], K, deconv_out_channels=(8,), deconv_kernel_sizes=(4,))
    outputs = head(stages)
    assert [tuple(o.shape) for o in outputs] == [(None, 16, 12, K)] * 2
    names = {w.path.split("/")[0] for w in head.weights}
    assert {"head.multi_deconv_layers.1.0", "head.multi_final_layers.0"} <= names
    assert cpm_head([K], K, final_kernel_size=0).count_params() == 0  # CPM: identity head


def test_layers_of_equal_shape_start_from_different_weights():
    # An unseeded Keras initializer instance returns the same values on every call.
    model = build_heatmap_model(SMALL_MODELS["hrnet_tiny"], INPUT_SIZE, K)
    state = model_state_dict(model)
    conv1 = state["backbone.stage2.0.branches.0.0.conv1.weight"]
    conv2 = state["backbone.stage2.0.branches.0.0.conv2.weight"]
    assert conv1.shape == conv2.shape
    assert not np.allclose(conv1, conv2)
    assert np.std(conv1) == pytest.approx(np.sqrt(2 / (8 * 9)), rel=0.3)  # kaiming, fan_out


def _torch_conv_transpose(x, w, stride, padding, output_padding):
    """PyTorch's ConvTranspose2d in numpy: x (N, H, W, Cin), w (Cin, Cout, kh, kw), NHWC out."""
    n, h, wd, _ = x.shape
    _, cout, kh, kw = w.shape
    full = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, cout), np.float64)
    for i in range(h):
        for j in range(wd):
            patch = np.einsum("nc,coab->naob", x[:, i, j], w)  # (N, kh, Cout, kw)
            full[:, i * stride : i * stride + kh, j * stride : j * stride + kw] += patch.transpose(
                0, 1, 3, 2
            )
    out_h = (h - 1) * stride - 2 * padding + kh + output_padding
    out_w = (wd - 1) * stride - 2 * padding + kw + output_padding
    return full[:, padding : padding + out_h, padding : padding + out_w]


def test_layouts_follow_pytorch_semantics():
    """ConvTranspose2d (every HeatmapHead kernel size), depthwise conv and Linear weights in
    PyTorch layout give PyTorch's results (numpy references; no spatial flip)."""
    from kpose.models.heads.heatmap import DECONV_PADDING
    from kpose.models.layers import conv_transpose2d

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    inputs = keras.Input((3, 4, 5))
    outputs = [
        conv_transpose2d(inputs, 6, k, f"deconv{k}", padding=p, output_padding=op)
        for k, (p, op) in DECONV_PADDING.items()
    ]
    outputs.append(keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(inputs))
    outputs.append(keras.layers.Dense(7, name="fc")(inputs))
    model = keras.Model(inputs, outputs)
    state = {f"deconv{k}.weight": rng.normal(size=(5, 6, k, k)) for k in DECONV_PADDING}
    state["dw.weight"] = rng.normal(size=(10, 1, 3, 3))
    state["dw.bias"] = rng.normal(size=10)
    state["fc.weight"] = rng.normal(size=(7, 5))
    state["fc.bias"] = rng.normal(size=7)
    assign_state_dict(model, state)
    got = [np.asarray(y) for y in model(x)]

    for y, (k, (p, op)) in zip(got, DECONV_PADDING.items(), strict=False):
        expected = _torch_conv_transpose(x, state[f"deconv{k}.weight"], 2, p, op)
        assert y.shape == expected.shape == (2, 6, 8, 6)
        np.testing.assert_allclose(y, expected, atol=1e-4)
    # groups=5 Conv2d(5, 10, 3): output channel o reads input channel o // 2.
    w = state["dw.weight"][:, 0]
    expected = np.zeros((2, 1, 2, 10))
    for o in range(10):
        for a in range(3):
            for b in range(3):
                expected[..., o] += x[:, a : a + 1, b : b + 2, o // 2] * w[o, a, b]
    np.testing.assert_allclose(got[3], expected + state["dw.bias"], atol=1e-4)
    np.testing.assert_allclose(got[4], x @ state["fc.weight"].T + state["fc.bias"], atol=1e-4)
    assert set(model_state_dict(model)) == set(state)
