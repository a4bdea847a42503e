"""``train.frozen_stages`` / ``train.norm_eval`` against MMPose: the parameters a backbone built
from the preset's config with ``frozen_stages=n`` leaves without gradient, and the BatchNorm
modules it puts in eval mode after ``model.train()``, equal what kpose freezes."""

from __future__ import annotations

import json

import keras
import pytest

import kpose
from kpose.models.backbones import BACKBONES
from kpose.models.freeze import all_layers, freeze_stages, set_norm_eval
from kpose.weights.state_dict import model_state_dict
from tests.parity.mmpose_ref import BUFFER_SUFFIXES

pytestmark = pytest.mark.parity

# preset -> frozen_stages values checked (each family's _freeze_stages, ResNet's two stems)
CASES = {
    "resnet50": (0, 2, 4),
    "resnetv1d50": (1,),
    "hrnet-w32": (0, 1, 3, 4),
    "vitpose-s": (3, 12),
    "swin-t": (0, 2),
    "cspnext-m": (0, 1, 4),
}

_REFERENCE = """
import torch
from mmengine.config import Config
from mmpose.apis import init_model

for case in json.loads(str(inputs["cases"])):
    cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, case["config"]))
    backbone = dict(cfg.model.backbone, init_cfg=None)
    if case["frozen_stages"] is not None:
        backbone["frozen_stages"] = case["frozen_stages"]
    if case["norm_eval"]:
        backbone["norm_eval"] = True
    cfg.model.backbone = backbone
    model = init_model(cfg, None, device="cpu")
    model.train()
    bn = torch.nn.modules.batchnorm._BatchNorm
    outputs[case["key"]] = dict(
        frozen=sorted(n for n, p in model.named_parameters() if not p.requires_grad),
        eval_bn=sorted(n for n, m in model.named_modules() if isinstance(m, bn) and not m.training),
    )
"""


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    cases = [
        {
            "key": f"{preset}/{n}",
            "config": kpose.presets.get(preset).mmpose_config,
            "frozen_stages": n,
            "norm_eval": False,
        }
        for preset, values in CASES.items()
        for n in values
    ]
    cases.append(
        {
            "key": "resnet50/norm_eval",
            "config": kpose.presets.get("resnet50").mmpose_config,
            "frozen_stages": None,
            "norm_eval": True,
        }
    )
    return mmpose_ref(_REFERENCE, cases=json.dumps(cases), timeout=900)


def _frozen_and_eval_bn(model) -> tuple[list[str], list[str]]:
    keys = model_state_dict(model)
    frozen, eval_bn = [], []
    for layer in all_layers(model):
        if isinstance(layer, keras.Model) or not layer.weights or layer.trainable:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            eval_bn.append(layer.name)
        frozen += [
            k for k in keys if k.startswith(f"{layer.name}.") and not k.endswith(BUFFER_SUFFIXES)
        ]
        frozen += [k for k in keys if k == layer.name]  # a bare parameter (pos_embed)
    return sorted(set(frozen)), sorted(eval_bn)


@pytest.mark.parametrize("preset", CASES)
def test_frozen_stages_freeze_what_mmpose_freezes(preset, reference):
    family = BACKBONES[kpose.load_recipe_for(preset).model.backbone].split(":")[0]
    for n in CASES[preset]:
        model = kpose.build_model(preset)
        freeze_stages(model, family, n)
        frozen, eval_bn = _frozen_and_eval_bn(model)
        ref = reference[f"{preset}/{n}"]
        assert frozen == ref["frozen"], (preset, n, set(frozen) ^ set(ref["frozen"]))
        assert eval_bn == ref["eval_bn"], (preset, n, set(eval_bn) ^ set(ref["eval_bn"]))
        assert frozen, (preset, n)


def test_norm_eval_puts_the_backbones_bn_in_eval_mode_and_freezes_nothing(reference):
    model = kpose.build_model("resnet50")
    count = set_norm_eval(model)
    ref = reference["resnet50/norm_eval"]
    assert ref["frozen"] == []
    bns = [
        layer.name
        for layer in all_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith("backbone.")
    ]
    assert sorted(bns) == ref["eval_bn"] and count == len(bns) == 53
    assert all(layer.trainable for layer in all_layers(model))
