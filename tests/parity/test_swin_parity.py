"""Swin Transformer heatmap models against MMPose 1.3.2 (``SwinTransformer`` + the 3-deconv
``HeatmapHead``): same random weights, same heatmaps, same parameter count.

Fast cases use tiny widths on small crops whose token maps still need window padding (and, for
one, patch-embedding and odd patch-merging padding); slow cases are the seed configs at full
size. ``convert_swin_checkpoint`` is checked against MMPose's ``swin_converter``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.backbones.swin import convert_swin_checkpoint, swin
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict
from tests.parity.mmpose_ref import BODY, parameter_count, reference_heatmap_model, run_reference

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

CONFIGS = {
    "swin_t": f"{BODY}coco/td-hm_swin-t-p4-w7_8xb32-210e_coco-256x192.py",
    "swin_b": f"{BODY}coco/td-hm_swin-b-p4-w7_8xb32-210e_coco-256x192.py",
    "swin_l": f"{BODY}coco/td-hm_swin-l-p4-w7_8xb32-210e_coco-256x192.py",
}
# State-dict entries that are not parameters (Swin's relative_position_index is a buffer).
SMALL_HEAD = HeadConfig((32, 32, 32), (4, 4, 4))


def _images(input_size, batch=2):
    w, h = input_size
    return np.random.default_rng(0).uniform(0, 255, (batch, h, w, 3)).astype(np.float32)


def _check(model, state_dict, expected, images):
    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(images, training=False))
    assert heatmaps.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    diff = float(np.abs(heatmaps - expected).max())
    print(f"max|ref| {scale:.3g}, max abs diff {diff:.3g}")
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
    torch_params = parameter_count(state_dict)
    keras_params = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    print(f"parameters: {keras_params}")
    assert keras_params == torch_params


# (preset, arch, (w, h)): 64x96 gives 24x16 tokens (padded to 28x21, then 14x14, 7x7, 7x7);
# 70x90 also pads the patch embedding (to 72x92) and merges odd maps (23x18 -> 12x9 -> 6x5).
FAST = [
    ("swin_t", {"embed_dims": 32, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 4, 8]}, (64, 96)),
    ("swin_b", {"embed_dims": 32, "depths": [1, 1, 3, 1], "num_heads": [2, 2, 4, 8]}, (64, 96)),
    ("swin_l", {"embed_dims": 24, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 3, 6]}, (70, 90)),
]


@pytest.mark.parametrize("preset, arch, input_size", FAST, ids=[c[0] for c in FAST])
def test_tiny_swin_matches_mmpose(preset, arch, input_size):
    w, h = input_size
    channels = arch["embed_dims"] * 8
    images = _images(input_size)
    state_dict, expected = reference_heatmap_model(
        CONFIGS[preset],
        images,
        backbone=dict(arch),
        head={"in_channels": channels, "deconv_out_channels": (32, 32, 32)},
    )
    cfg = ModelConfig("swin", {"arch": arch, "img_size": [h, w]}, head=SMALL_HEAD)
    _check(build_heatmap_model(cfg, input_size, 17), state_dict, expected, images)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["swin_t", "swin_b", "swin_l"])
def test_full_size_swin_matches_mmpose(preset):
    images = _images((192, 256))
    start = time.time()
    state_dict, expected = reference_heatmap_model(CONFIGS[preset], images)
    print(f"reference {time.time() - start:.0f} s")
    model = build_heatmap_model(ModelConfig(preset, {"img_size": [256, 192]}), (192, 256), 17)
    _check(model, state_dict, expected, images)


_CONVERTER = """
import torch
from mmpose.models.backbones.utils.ckpt_convert import swin_converter
original = {k[len("original."):]: torch.from_numpy(v) for k, v in inputs.items()
            if k.startswith("original.")}
for k, v in swin_converter(original).items():
    outputs["converted." + k] = v.numpy()
"""


def _original_checkpoint(backbone) -> dict[str, np.ndarray]:
    """A random checkpoint in the original Swin repository's names and shapes (with its
    classifier, final norm and ``attn_mask`` buffers), built from the MMPose names."""
    rng = np.random.default_rng(1)
    original = {}
    for key, value in model_state_dict(backbone).items():
        if key.startswith("backbone.norm3."):
            continue
        key = (
            key.removeprefix("backbone.")
            .replace("stages", "layers", 1)
            .replace("attn.w_msa.", "attn.")
            .replace("ffn.layers.0.0.", "mlp.fc1.")
            .replace("ffn.layers.1.", "mlp.fc2.")
            .replace("projection", "proj")
        )
        if key.endswith("relative_position_index"):
            original[key] = value
        else:
            original[key] = rng.normal(size=value.shape).astype(np.float32)
    channels = int(backbone.output.shape[-1])
    original.update(
        {
            "norm.weight": rng.normal(size=channels).astype(np.float32),
            "norm.bias": rng.normal(size=channels).astype(np.float32),
            "head.weight": rng.normal(size=(10, channels)).astype(np.float32),
            "head.bias": rng.normal(size=10).astype(np.float32),
            "layers.0.blocks.1.attn_mask": rng.normal(size=(9, 49, 49)).astype(np.float32),
        }
    )
    return original


def test_convert_swin_checkpoint_matches_swin_converter():
    arch = {"embed_dims": 16, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]}
    backbone = swin(arch, img_size=(64, 64))
    original = _original_checkpoint(backbone)
    out = run_reference(_CONVERTER, **{f"original.{k}": v for k, v in original.items()})
    reference = {k[len("converted.") :]: v for k, v in out.items() if k.startswith("converted.")}
    ours = convert_swin_checkpoint(original)
    # MMPose keeps the keys its backbone has no place for; loading (strict=False) skips them.
    skipped = {"backbone.norm.weight", "backbone.norm.bias", "backbone.stages.0.blocks.1.attn_mask"}
    assert set(reference) - set(ours) == skipped
    assert set(ours) <= set(reference)
    for key, value in ours.items():
        np.testing.assert_array_equal(value, reference[key], err_msg=key)
    result = assign_state_dict(backbone, ours, strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys == ["backbone.norm3.bias", "backbone.norm3.weight"]
