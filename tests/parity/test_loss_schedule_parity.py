"""KeypointMSELoss, KeypointOHKMMSELoss, AdaptiveWingLoss, MSPN's per-stage losses and the
LinearLR + MultiStepLR schedule against MMPose / mmengine."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kpose.recipe import load_recipe
from kpose.training.losses import (
    keypoint_mse,
    keypoint_mse_per_sample,
    keypoint_ohkm_mse_per_sample,
    stage_losses,
)
from kpose.training.schedules import WarmupMultiStep

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
PER_SAMPLE = {"mse": keypoint_mse_per_sample, "ohkm": keypoint_ohkm_mse_per_sample}


def test_keypoint_mse_equals_mmpose(mmpose_ref):
    rng = np.random.default_rng(1)
    pred = rng.random((4, 16, 12, 17), dtype=np.float32)
    target = rng.random((4, 16, 12, 17), dtype=np.float32)
    weights = (rng.random((4, 17)) > 0.3).astype(np.float32)
    out = mmpose_ref(
        """
import torch
from mmpose.models.losses import KeypointMSELoss
loss = KeypointMSELoss(use_target_weight=True)
p = torch.from_numpy(inputs["pred"]).permute(0, 3, 1, 2)
t = torch.from_numpy(inputs["target"]).permute(0, 3, 1, 2)
outputs["loss"] = loss(p, t, torch.from_numpy(inputs["weights"])).numpy()
""",
        pred=pred,
        target=target,
        weights=weights,
    )
    assert float(keypoint_mse(pred, target, weights)) == pytest.approx(float(out["loss"]), rel=1e-6)


def test_schedule_equals_mmengine(mmpose_ref):
    steps_per_epoch, epochs = 7, 6
    out = mmpose_ref(f"""
import torch
from mmengine.optim.scheduler import LinearLR, MultiStepLR
param = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.Adam([param], lr=5e-4)
warm = LinearLR(opt, start_factor=0.001, begin=0, end=20, by_epoch=False)
decay = MultiStepLR.build_iter_from_epoch(opt, milestones=[3, 5], gamma=0.1, by_epoch=True,
                                          epoch_length={steps_per_epoch})
lrs = []
for it in range({steps_per_epoch * epochs}):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    for s in (warm, decay):
        s.step()
outputs["lrs"] = np.array(lrs)
""")
    s = WarmupMultiStep(5e-4, steps_per_epoch, (3, 5), 0.1, 20, 0.001)
    ours = np.array([float(s(i)) for i in range(steps_per_epoch * epochs)])
    np.testing.assert_allclose(ours, out["lrs"], rtol=1e-5)


def test_keypoint_ohkm_mse_equals_mmpose(mmpose_ref):
    rng = np.random.default_rng(2)
    pred = rng.random((3, 8, 6, 17), dtype=np.float32)
    target = rng.random((3, 8, 6, 17), dtype=np.float32)
    weights = (rng.random((3, 17)) > 0.3).astype(np.float32)
    out = mmpose_ref(
        """
import torch
from mmpose.models.losses import KeypointOHKMMSELoss
loss = KeypointOHKMMSELoss(use_target_weight=True, topk=8)
p = torch.from_numpy(inputs["pred"]).permute(0, 3, 1, 2)
t = torch.from_numpy(inputs["target"]).permute(0, 3, 1, 2)
outputs["loss"] = loss(p, t, torch.from_numpy(inputs["weights"])).numpy()
""",
        pred=pred,
        target=target,
        weights=weights,
    )
    ours = float(np.mean(keypoint_ohkm_mse_per_sample(pred, target, weights, topk=8)))
    assert ours == pytest.approx(float(out["loss"]), rel=1e-6)


@pytest.mark.parametrize("recipe_name", ["mspn50_coco", "rsn50_3x_coco"])
def test_mspn_stage_losses_equal_the_configs_loss(mmpose_ref, recipe_name):
    """The summed multi-stage, multi-level loss of a kpose MSPN/RSN recipe equals what the
    MMPose config's MSPNHead losses give on the same outputs and per-level targets."""
    recipe = load_recipe(RECIPES / f"{recipe_name}.yaml")
    levels = list(recipe.model.head.args["level_indices"])
    rng = np.random.default_rng(3)
    preds = rng.random((len(levels), 2, 8, 6, 17), dtype=np.float32)
    targets = rng.random((len(recipe.codec.kernel_sizes), 2, 8, 6, 17), dtype=np.float32)
    weights = (rng.random((2, 17)) > 0.3).astype(np.float32)
    out = mmpose_ref(
        """
import torch
from mmengine.config import Config
from mmpose.registry import MODELS
cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, str(inputs["config"])))
head = cfg.model.head
w = torch.from_numpy(inputs["weights"])
total = 0.0
for i, level in enumerate(head.level_indices):
    loss = MODELS.build(head.loss[i])
    p = torch.from_numpy(inputs["preds"][i]).permute(0, 3, 1, 2)
    t = torch.from_numpy(inputs["targets"][level]).permute(0, 3, 1, 2)
    total = total + loss(p, t, w)
outputs["loss"] = total.numpy()
""",
        config=np.array(recipe.mmpose_config),
        preds=preds,
        targets=targets,
        weights=weights,
    )
    ours = sum(
        s.weight * float(np.mean(PER_SAMPLE[s.loss](preds[i], targets[s.level], weights)))
        for i, s in enumerate(stage_losses(recipe.model.head, len(levels)))
    )
    assert ours == pytest.approx(float(out["loss"]), rel=1e-5)


def test_warmup_then_cosine_equals_mmengine(mmpose_ref):
    """The CSPNeXt configs' LinearLR + CosineAnnealingLR (second half, per iteration)."""
    steps_per_epoch, epochs = 5, 8
    out = mmpose_ref(f"""
import torch
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
param = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.AdamW([param], lr=4e-3)
warm = LinearLR(opt, start_factor=1e-5, begin=0, end=12, by_epoch=False)
cosine = CosineAnnealingLR.build_iter_from_epoch(
    opt, eta_min=4e-3 * 0.05, begin=4, end=8, T_max=4, by_epoch=True,
    epoch_length={steps_per_epoch})
lrs = []
for it in range({steps_per_epoch * epochs}):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    for s in (warm, cosine):
        s.step()
outputs["lrs"] = np.array(lrs)
""")
    s = WarmupMultiStep(4e-3, steps_per_epoch, (), 0.1, 12, 1e-5, (4, 8), 0.05)
    ours = np.array([float(s(i)) for i in range(steps_per_epoch * epochs)])
    np.testing.assert_allclose(ours, out["lrs"], rtol=1e-5)


def test_adaptive_wing_loss_equals_mmpose(mmpose_ref):
    """AdaptiveWingLoss (WFLW's awing config): both branches of the loss are exercised (errors
    below and above theta), with MMPose's defaults and with other hyper-parameters."""
    rng = np.random.default_rng(3)
    target = rng.random((3, 16, 16, 98), dtype=np.float32)
    pred = (target + rng.normal(0, 0.6, target.shape)).astype(np.float32)
    weights = (rng.random((3, 98)) > 0.2).astype(np.float32)
    other = {"alpha": 1.9, "omega": 10.0, "epsilon": 0.5, "theta": 0.4}
    out = mmpose_ref(
        f"""
import torch
from mmpose.models.losses import AdaptiveWingLoss
p = torch.from_numpy(inputs["pred"]).permute(0, 3, 1, 2)
t = torch.from_numpy(inputs["target"]).permute(0, 3, 1, 2)
w = torch.from_numpy(inputs["weights"])
outputs["default"] = AdaptiveWingLoss(use_target_weight=True)(p, t, w).numpy()
outputs["other"] = AdaptiveWingLoss(use_target_weight=True, **{other!r})(p, t, w).numpy()
""",
        pred=pred,
        target=target,
        weights=weights,
    )
    head = load_recipe(RECIPES / "quickstart.yaml").model.head
    for key, args in (("default", {}), ("other", other)):
        cfg = dataclasses.replace(head, loss="adaptive_wing", loss_args=args)
        (stage,) = stage_losses(cfg, 1)
        ours = float(np.mean(stage.per_sample(pred, target, weights)))
        assert ours == pytest.approx(float(out[key]), rel=1e-5), key
