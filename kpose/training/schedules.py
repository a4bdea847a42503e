"""MMPose's learning-rate schedules: linear warm-up by iteration, then multi-step decay by epoch
and/or cosine annealing (RTMPose / CSPNeXt configs)."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kpose")
class WarmupMultiStep(keras.optimizers.schedules.LearningRateSchedule):
    """``LinearLR(start_factor, end=warmup_iters, by_epoch=False)`` then
    ``MultiStepLR(milestones, gamma)`` with epoch milestones converted to iterations.

    MMPose applies both schedulers together: during warm-up the factor grows linearly from
    ``start_factor`` at iteration 0 to 1 at iteration ``warmup_iters - 1`` (mmengine's
    ``total_iters = end - begin - 1``); decay multiplies by ``gamma`` at each milestone epoch.
    With ``cosine_epochs = (begin, end)`` the rate also follows mmengine's
    ``CosineAnnealingLR(eta_min=lr * min_factor, begin, end, T_max=end - begin, by_epoch=True,
    convert_to_iter_based=True)``: from epoch ``begin`` to ``end``, per iteration, it falls
    along a half cosine from ``lr`` to ``lr * min_factor``.
    """

    def __init__(
        self,
        lr: float,
        steps_per_epoch: int,
        milestones=(170, 200),
        gamma: float = 0.1,
        warmup_iters: int = 500,
        warmup_start_factor: float = 0.001,
        cosine_epochs: tuple[int, int] | None = None,
        min_factor: float = 0.0,
    ):
        self.lr = float(lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.milestones = tuple(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_iters = int(warmup_iters)
        self.warmup_start_factor = float(warmup_start_factor)
        self.cosine_epochs = tuple(int(e) for e in cosine_epochs) if cosine_epochs else None
        self.min_factor = float(min_factor)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        epoch = tf.floor(step / float(max(self.steps_per_epoch, 1)))
        passed = tf.add_n(
            [tf.cast(epoch >= m, tf.float32) for m in self.milestones] or [tf.constant(0.0)]
        )
        decay = tf.pow(self.gamma, passed)
        if self.warmup_iters > 0:
            frac = tf.minimum(step / float(max(self.warmup_iters - 1, 1)), 1.0)
            warm = self.warmup_start_factor + (1.0 - self.warmup_start_factor) * frac
        else:
            warm = 1.0
        if self.cosine_epochs:
            begin, end = (e * float(self.steps_per_epoch) for e in self.cosine_epochs)
            t = tf.clip_by_value(step - begin, 0.0, end - begin) / max(end - begin, 1.0)
            decay *= self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + tf.cos(math.pi * t))
        return self.lr * warm * decay

    def get_config(self):
        return {
            "lr": self.lr,
            "steps_per_epoch": self.steps_per_epoch,
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "warmup_iters": self.warmup_iters,
            "warmup_start_factor": self.warmup_start_factor,
            "cosine_epochs": list(self.cosine_epochs) if self.cosine_epochs else None,
            "min_factor": self.min_factor,
        }
