"""KeypointMSELoss values and the warm-up + multi-step schedule, as MMPose computes them."""

import numpy as np
import pytest

from kpose.errors import RecipeError
from kpose.recipe import HeadConfig
from kpose.training.losses import StageLoss, keypoint_mse, keypoint_mse_per_sample, stage_losses
from kpose.training.schedules import WarmupMultiStep


def test_mse_matches_mmpose_formula():
    rng = np.random.default_rng(0)
    pred = rng.random((3, 8, 6, 5), dtype=np.float32)
    target = rng.random((3, 8, 6, 5), dtype=np.float32)
    weights = rng.integers(0, 2, (3, 5)).astype(np.float32)
    # MMPose: mean over B*K*H*W of (pred - target)^2 * w[b, k], no 1/2 factor
    expected = np.mean((pred - target) ** 2 * weights[:, None, None, :])
    assert float(keypoint_mse(pred, target, weights)) == pytest.approx(expected, rel=1e-6)
    per = keypoint_mse_per_sample(pred, target, weights).numpy()
    assert per.shape == (3,) and per.mean() == pytest.approx(expected, rel=1e-6)


def test_mse_known_value():
    pred = np.zeros((1, 2, 2, 2), np.float32)
    target = np.ones((1, 2, 2, 2), np.float32)
    assert float(keypoint_mse(pred, target, np.array([[1.0, 0.0]], np.float32))) == 0.5


def test_schedule_warmup_and_decay():
    s = WarmupMultiStep(
        5e-4,
        steps_per_epoch=100,
        milestones=(2, 3),
        gamma=0.1,
        warmup_iters=500,
        warmup_start_factor=0.001,
    )
    assert float(s(0)) == pytest.approx(5e-7)
    # mmengine's LinearLR reaches the full rate at iteration end - 1
    assert float(s(150)) == pytest.approx(5e-4 * (0.001 + 0.999 * 150 / 499), rel=1e-5)
    assert float(s(199)) == pytest.approx(5e-4 * (0.001 + 0.999 * 199 / 499), rel=1e-5)
    # epoch 2 starts at step 200: decayed once, still warming up
    assert float(s(200)) == pytest.approx(5e-5 * (0.001 + 0.999 * 200 / 499), rel=1e-5)
    assert float(s(499)) == pytest.approx(5e-6, rel=1e-5)
    assert float(s(600)) == pytest.approx(5e-6, rel=1e-5)
    assert WarmupMultiStep.from_config(s.get_config()).get_config() == s.get_config()


def test_mspn_stage_losses_and_their_level_check():
    head = HeadConfig(type="mspn", args={"num_units": 2, "level_indices": [0, 1, 0, 1]})
    assert stage_losses(head, 4) == [
        StageLoss(0, "mse", 0.25),
        StageLoss(1, "ohkm", 1.0),
        StageLoss(0, "mse", 0.25),
        StageLoss(1, "ohkm", 1.0),
    ]
    with pytest.raises(RecipeError, match="'model.head.args.level_indices'"):
        stage_losses(head, 3)


def test_adaptive_wing_loss_from_the_recipe():
    """head.loss: adaptive_wing -> MMPose's defaults unless loss_args say otherwise; zero for a
    perfect prediction; the formula's small-error branch by hand (target 0, so the exponent is
    alpha); masked keypoints cost nothing."""
    (stage,) = stage_losses(HeadConfig(loss="adaptive_wing"), 1)
    assert stage.args == {"alpha": 2.1, "omega": 14.0, "epsilon": 1.0, "theta": 0.5}
    target = np.zeros((1, 2, 2, 2), np.float32)
    assert float(stage.per_sample(target, target, np.ones((1, 2), np.float32))[0]) == 0.0
    pred = np.full((1, 2, 2, 2), 0.3, np.float32)
    weights = np.array([[1.0, 0.0]], np.float32)
    expected = 14.0 * np.log1p(0.3**2.1) / 2  # one of the two keypoints counts
    assert float(stage.per_sample(pred, target, weights)[0]) == pytest.approx(expected, rel=1e-6)
    (custom,) = stage_losses(HeadConfig(loss="adaptive_wing", loss_args={"omega": 10}), 1)
    assert custom.args["omega"] == 10.0 and custom.args["alpha"] == 2.1


@pytest.mark.parametrize(
    "head, match",
    [
        (HeadConfig(loss="adaptive_wing", loss_args={"beta": 1.0}), r"loss_args\.beta"),
        (HeadConfig(loss_args={"alpha": 1.0}), r"loss_args.*MSE"),
        (HeadConfig(type="mspn", loss="adaptive_wing"), r"model\.head\.loss"),
    ],
)
def test_bad_loss_settings_name_the_key(head, match):
    with pytest.raises(RecipeError, match=match):
        stage_losses(head, 1)
