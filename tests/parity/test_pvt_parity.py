"""PVT and PVTv2 heatmap models against MMPose 1.3.2 (``PyramidVisionTransformer(V2)``, the
``FeatureMapProcessor`` neck selecting stage 3, the 3-deconv ``HeatmapHead``): same random
weights, same heatmaps, same parameter count.

Fast cases are narrow models on a crop with odd token maps (floor-sized v1 patch and
reduction convolutions, padded v2 patches): v1 with an 80 pre-training grid, so that each
position embedding is upsampled along the rows and downsampled along the columns (20x20 ->
26x18, ... 2x2 -> 3x2), as the full-size configs' are (56x56 -> 64x48), and v2. Slow cases
are the recipes at full size.
``convert_pvt_checkpoint`` is checked against MMPose's ``pvt_convert``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from kpose.models.backbones.pvt import convert_pvt_checkpoint, pvt, pvtv2
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig, load_recipe
from kpose.weights.state_dict import assign_state_dict, model_state_dict
from tests.parity.mmpose_ref import (
    BODY,
    assert_heatmap_parity,
    reference_heatmap_model,
    run_reference,
)

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
CONFIGS = {
    "pvt_s": f"{BODY}coco/td-hm_pvt-s_8xb64-210e_coco-256x192.py",
    "pvtv2_b2": f"{BODY}coco/td-hm_pvtv2-b2_8xb64-210e_coco-256x192.py",
}
NARROW = {"embed_dims": 8, "num_layers": [1, 2, 1, 1], "num_heads": [1, 2, 3, 4]}
HEAD = HeadConfig((16, 16, 16), (4, 4, 4))
# (id, preset, MMPose backbone overrides, (w, h)); the overrides are kpose arguments too.
FAST = [
    ("pvt", "pvt_s", {**NARROW, "pretrain_img_size": 80}, (72, 104)),
    ("pvtv2", "pvtv2_b2", NARROW, (72, 104)),
]


def _images(input_size, batch=2):
    w, h = input_size
    return np.random.default_rng(0).uniform(0, 255, (batch, h, w, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "preset, args, input_size", [c[1:] for c in FAST], ids=[c[0] for c in FAST]
)
def test_narrow_pvt_matches_mmpose(preset, args, input_size):
    start = time.perf_counter()
    w, h = input_size
    images = _images(input_size)
    head = {
        "in_channels": args["embed_dims"] * args["num_heads"][-1],
        "deconv_out_channels": [16] * 3,
    }
    state_dict, expected = reference_heatmap_model(
        CONFIGS[preset], images, backbone=args, head=head
    )
    cfg = ModelConfig(preset, {**args, "img_size": [h, w]}, head=HEAD)
    model = build_heatmap_model(cfg, input_size, 17)
    assert_heatmap_parity(model, state_dict, expected, images, f"{preset} narrow {input_size}")
    print(f"{preset} {input_size}: {time.perf_counter() - start:.1f} s")


_CONVERTER = """
import torch
from mmpose.models.utils.ckpt_convert import pvt_convert
for version in ("v1", "v2"):
    prefix = version + "."
    original = {k[len(prefix):]: torch.from_numpy(v) for k, v in inputs.items()
                if k.startswith(prefix)}
    for k, v in pvt_convert(original).items():
        outputs[prefix + k] = v.numpy()
"""


def _original_checkpoint(backbone, v2: bool) -> dict[str, np.ndarray]:
    """A random checkpoint in the original PVT repository's names and shapes (q and kv
    projections apart, linear MLP weights, a class-token slot in v1's stage-4 embedding, the
    classifier), built from the MMPose names."""
    rng = np.random.default_rng(1)
    offset = 0 if v2 else 1
    original = {}
    for key, value in model_state_dict(backbone).items():
        parts = key.removeprefix("backbone.").split(".")
        stage = int(parts[1]) + 1
        if parts[2] == "0":
            new = f"patch_embed{stage}." + ".".join(parts[3:]).replace("projection", "proj")
        elif parts[2] == "2":
            new = f"norm{stage}.{parts[3]}"
        elif parts[4] == "pos_embed":
            new = f"pos_embed{stage}"
            if stage == 4:
                value = np.zeros((1, value.shape[1] + 1, value.shape[2]), np.float32)
        else:
            rest = ".".join(parts[4:])
            fc2 = "ffn.layers.4." if v2 else "ffn.layers.3."
            rest = (
                rest.replace("attn.attn.out_proj.", "attn.proj.")
                .replace("ffn.layers.0.", "mlp.fc1.")
                .replace("ffn.layers.1.", "mlp.dwconv.dwconv.")
                .replace(fc2, "mlp.fc2.")
            )
            if ".fc" in rest and rest.endswith("weight"):
                value = value[:, :, 0, 0]
            new = f"block{stage}.{int(parts[3]) - offset}.{rest}"
            if "in_proj_" in rest:
                c = value.shape[0] // 3
                suffix = rest.split("in_proj_")[1]
                original[new.replace(rest, f"attn.kv.{suffix}")] = rng.normal(
                    size=(2 * c, *value.shape[1:])
                ).astype(np.float32)
                new, value = new.replace(rest, f"attn.q.{suffix}"), value[:c]
        original[new] = rng.normal(size=value.shape).astype(np.float32)
    channels = int(backbone.output.shape[-1])
    original.update(
        {
            "norm.weight": rng.normal(size=channels).astype(np.float32),
            "head.weight": rng.normal(size=(10, channels)).astype(np.float32),
            "head.bias": rng.normal(size=10).astype(np.float32),
        }
    )
    if not v2:
        original["cls_token"] = rng.normal(size=(1, 1, channels)).astype(np.float32)
    return original


def test_convert_pvt_checkpoint_matches_pvt_convert():
    arch = {"embed_dims": 4, "num_layers": [1, 2, 1, 1], "num_heads": [1, 2, 2, 2]}
    backbones = {"v1": pvt(**arch, img_size=(64, 64)), "v2": pvtv2(**arch, img_size=(64, 64))}
    originals = {v: _original_checkpoint(b, v == "v2") for v, b in backbones.items()}
    out = run_reference(
        _CONVERTER,
        **{f"{v}.{k}": a for v, original in originals.items() for k, a in original.items()},
    )
    for version, backbone in backbones.items():
        prefix = f"{version}."
        reference = {
            "backbone." + k[len(prefix) :]: a for k, a in out.items() if k.startswith(prefix)
        }
        ours = convert_pvt_checkpoint(originals[version])
        assert set(ours) == set(reference), version
        for key, value in ours.items():
            np.testing.assert_array_equal(value, reference[key], err_msg=key)
        assign_state_dict(backbone, ours, strict=True)


@pytest.mark.slow
@pytest.mark.parametrize("recipe_name", ["pvt_s_coco", "pvtv2_b2_coco"])
def test_recipe_matches_mmpose_at_full_size(recipe_name):
    start = time.perf_counter()
    recipe = load_recipe(RECIPES / f"{recipe_name}.yaml")
    images = _images(recipe.codec.input_size)
    state_dict, expected = reference_heatmap_model(recipe.mmpose_config, images)
    model = build_heatmap_model(recipe.model, recipe.codec.input_size, 17)
    assert expected.shape[1:3] == tuple(recipe.codec.heatmap_size)[::-1]
    assert_heatmap_parity(model, state_dict, expected, images, recipe.name)
    print(f"{recipe.name}: {time.perf_counter() - start:.1f} s")
