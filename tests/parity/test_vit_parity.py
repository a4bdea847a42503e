"""ViTPose against MMPose 1.3.2 (mmpretrain's VisionTransformer): tiny ViTs with the classic
and the simple head give MMPose's heatmaps from MMPose's state dict, and a checkpoint
``pos_embed`` with a class-token slot on another grid (an MAE checkpoint) is adapted exactly as
mmpretrain's load hook adapts it. Full-size presets: ``test_presets_parity.py`` (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict
from tests.parity.mmpose_ref import BODY, parameter_count, reference_heatmap_model, run_reference

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

SMALL = f"{BODY}coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192.py"
SIMPLE = f"{BODY}coco/td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192.py"
TINY = {"embed_dims": 64, "num_layers": 2, "num_heads": 4, "feedforward_channels": 128}
INPUT = (64, 96)  # (w, h): a 6x4 token grid


def _images():
    w, h = INPUT
    return np.random.default_rng(0).uniform(0, 255, (2, h, w, 3)).astype(np.float32)


def _kpose_model(head: HeadConfig):
    w, h = INPUT
    cfg = ModelConfig("vit", {"arch": TINY, "img_size": [h, w]}, head=head)
    return build_heatmap_model(cfg, INPUT, 17)


def _check(model, state_dict, expected):
    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(_images(), training=False))
    assert heatmaps.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
    torch_params = parameter_count(state_dict)
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == torch_params


@pytest.mark.parametrize("head", ["classic", "simple"])
def test_tiny_vitpose_matches_mmpose(head):
    w, h = INPUT
    backbone = {"arch": TINY, "img_size": (h, w), "drop_path_rate": 0.1}
    if head == "classic":
        state_dict, expected = reference_heatmap_model(
            SMALL, _images(), backbone=backbone, head={"in_channels": 64}
        )
        model = _kpose_model(HeadConfig((256, 256), (4, 4)))
    else:
        state_dict, expected = reference_heatmap_model(
            SIMPLE, _images(), backbone=backbone, head={"in_channels": 64}
        )
        model = _kpose_model(HeadConfig((), (), final_kernel_size=3, upsample_factor=4.0))
    _check(model, state_dict, expected)


_RESIZED = """
import torch
from mmpretrain.models import VisionTransformer
spec = json.loads(str(inputs["spec"]))
torch.manual_seed(0)
vit = VisionTransformer(arch=spec["arch"], img_size=tuple(spec["img_size"]), patch_size=16,
                        qkv_bias=True, with_cls_token=False, out_type="featmap",
                        patch_cfg=dict(padding=2))
state = vit.state_dict()
mae = torch.randn(1, spec["tokens"], spec["arch"]["embed_dims"])
state["pos_embed"] = mae
vit.load_state_dict(state)  # mmpretrain's hook drops a class-token slot / resizes bicubically
outputs["mae"] = mae.numpy()
outputs["resized"] = vit.pos_embed.detach().numpy()
"""


@pytest.mark.parametrize("tokens", [14 * 14, 3 * 3, 16 * 12 + 1])
def test_pos_embed_from_another_grid_is_resized_like_mmpretrain(tokens):
    """An MAE checkpoint's 14x14 grid, a coarser one, and a class-token slot."""
    from kpose.models.layers import resize_pos_embed

    spec = {"arch": TINY, "img_size": [256, 192], "tokens": tokens}
    out = run_reference(_RESIZED, spec=np.array(json.dumps(spec)))
    ours = resize_pos_embed(out["mae"], (16, 12))
    assert ours.shape == out["resized"].shape == (1, 192, 64)
    np.testing.assert_allclose(ours, out["resized"], rtol=0, atol=1e-5)


_GROUPS = """
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.apis import init_model
from mmpose.engine.optim_wrappers.layer_decay_optim_wrapper import (
    LayerDecayOptimWrapperConstructor)
import contextlib, io
spec = json.loads(str(inputs["spec"]))
cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, spec["config"]))
cfg.model.backbone.update(arch=spec["arch"], img_size=tuple(spec["img_size"]), init_cfg=None)
cfg.model.head.in_channels = spec["arch"]["embed_dims"]
model = init_model(cfg, None, device="cpu")
wrapper = dict(cfg.optim_wrapper)
wrapper.pop("constructor")
paramwise = dict(wrapper.pop("paramwise_cfg"), num_layers=spec["arch"]["num_layers"])
init_default_scope("mmpose")
with contextlib.redirect_stdout(io.StringIO()):  # the constructor prints its groups
    optim = LayerDecayOptimWrapperConstructor(wrapper, paramwise)(model)
names = {id(p): n for n, p in model.named_parameters()}
groups = {}
for group in optim.optimizer.param_groups:
    for p in group["params"]:
        groups[names[id(p)]] = [group["lr"] / wrapper["optimizer"]["lr"], group["weight_decay"]]
outputs["groups"] = groups
outputs["weight_decay"] = wrapper["optimizer"]["weight_decay"]
"""


def test_layer_decay_groups_match_mmpose():
    """Every parameter's learning-rate scale and weight decay, against MMPose's
    ``LayerDecayOptimWrapperConstructor`` on the ViTPose-S config (a 2-layer ViT)."""
    from kpose.training.optimizers import layer_decay_groups
    from kpose.weights.state_dict import parameter_names

    w, h = INPUT
    spec = {"config": SMALL, "arch": TINY, "img_size": [h, w]}
    out = run_reference(_GROUPS, spec=np.array(json.dumps(spec)))
    model = _kpose_model(HeadConfig((256, 256), (4, 4)))
    ours = layer_decay_groups(model, num_layers=TINY["num_layers"], rate=0.8)
    names = parameter_names(model)
    assert sorted(names[p] for p in ours) == sorted(out["groups"])
    for path, (mult, decay) in ours.items():
        scale, weight_decay = out["groups"][names[path]]
        assert mult == pytest.approx(scale, rel=1e-12), names[path]
        assert weight_decay == (out["weight_decay"] if decay else 0.0), names[path]
