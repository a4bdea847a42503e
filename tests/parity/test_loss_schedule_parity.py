"""KeypointMSELoss and the LinearLR + MultiStepLR schedule against MMPose / mmengine."""

import numpy as np
import pytest

from kpose.training.losses import keypoint_mse
from kpose.training.schedules import WarmupMultiStep


def test_keypoint_mse_equals_mmpose(mmpose_ref):
    rng = np.random.default_rng(1)
    pred = rng.random((4, 16, 12, 17), dtype=np.float32)
    target = rng.random((4, 16, 12, 17), dtype=np.float32)
    weights = (rng.random((4, 17)) > 0.3).astype(np.float32)
    out = mmpose_ref("""
import torch
from mmpose.models.losses import KeypointMSELoss
loss = KeypointMSELoss(use_target_weight=True)
p = torch.from_numpy(inputs["pred"]).permute(0, 3, 1, 2)
t = torch.from_numpy(inputs["target"]).permute(0, 3, 1, 2)
outputs["loss"] = loss(p, t, torch.from_numpy(inputs["weights"])).numpy()
""", pred=pred, target=target, weights=weights)
    assert float(keypoint_mse(pred, target, weights)) == pytest.approx(float(out["loss"]),
                                                                        rel=1e-6)


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
