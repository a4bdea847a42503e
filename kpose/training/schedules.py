"""MMPose's learning-rate schedule: linear warm-up by iteration, then multi-step decay by epoch."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kpose")
class WarmupMultiStep(keras.optimizers.schedules.LearningRateSchedule):
    """``LinearLR(start_factor, end=warmup_iters, by_epoch=False)`` then
    ``MultiStepLR(milestones, gamma)`` with epoch milestones converted to iterations.

    MMPose applies both schedulers together: during warm-up the factor grows linearly from
    ``start_factor`` at iteration 0 to 1 at iteration ``warmup_iters - 1`` (mmengine's
    ``total_iters = end - begin - 1``); decay multiplies by ``gamma`` at each milestone epoch.
    """

    def __init__(self, lr: float, steps_per_epoch: int, milestones=(170, 200), gamma: float = 0.1,
                 warmup_iters: int = 500, warmup_start_factor: float = 0.001):
        self.lr = float(lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.milestones = tuple(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_iters = int(warmup_iters)
        self.warmup_start_factor = float(warmup_start_factor)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        epoch = tf.floor(step / float(max(self.steps_per_epoch, 1)))
        passed = tf.add_n([tf.cast(epoch >= m, tf.float32) for m in self.milestones]
                          or [tf.constant(0.0)])
        decay = tf.pow(self.gamma, passed)
        if self.warmup_iters > 0:
            frac = tf.minimum(step / float(max(self.warmup_iters - 1, 1)), 1.0)
            warm = self.warmup_start_factor + (1.0 - self.warmup_start_factor) * frac
        else:
            warm = 1.0
        return self.lr * warm * decay

    def get_config(self):
        return {"lr": self.lr, "steps_per_epoch": self.steps_per_epoch,
                "milestones": list(self.milestones), "gamma": self.gamma,
                "warmup_iters": self.warmup_iters,
                "warmup_start_factor": self.warmup_start_factor}
