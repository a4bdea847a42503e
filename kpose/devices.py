"""Which parts of kpose run XLA-compiled on this machine, chosen per device and overridable.

Measured, not assumed (``benchmarks/compare.py``; 2-core x86 CPU, TF 2.21 with oneDNN): XLA's
CPU kernels lose to oneDNN's for convolutions, transposed and depthwise convolutions (HRNet-W32
batch 8: 10.4 img/s XLA vs 16.1 as a TF graph; MobileNetV2 10.2 vs 49.3), so on a CPU the
heatmap models and the train step's forward/backward run as plain TF graphs; XLA wins for the
gathers and element-wise work of the on-device augmentation (the training crops' warp: 2552 vs
397 samples/s) and of decoding, so those parts compile with XLA everywhere. On a GPU or TPU
every part compiles with XLA.

The parts: ``"model"`` (inference forward: ``PoseEstimator``, evaluation), ``"train_step"``
(the whole train step; on a CPU only its augmentation half is compiled, see ``"augment"``),
``"augment"`` (the exact warp + heatmap targets of the train step) and ``"decode"`` (heatmaps ->
keypoints). Override for a run with ``KPOSE_XLA``: ``auto`` (the default), ``all``, ``none``, or
the comma-separated parts to compile (``KPOSE_XLA=model,decode``); recipes override the model
and train step with ``eval.jit_compile`` / ``train.jit_compile`` (``true`` / ``false``; unset:
automatic).
"""

from __future__ import annotations

import functools
import os

import tensorflow as tf

from kpose.errors import KposeError

PARTS = ("model", "train_step", "augment", "decode")
_ON_CPU = frozenset({"augment", "decode"})


@functools.cache
def accelerator_present() -> bool:
    """Whether TensorFlow sees a GPU or TPU."""
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def use_xla(part: str, override: bool | None = None) -> bool:
    """Whether ``part`` (one of ``PARTS``) compiles with XLA: ``override`` when it is a bool
    (a recipe's ``jit_compile``), else ``$KPOSE_XLA``, else the device's choice."""
    if part not in PARTS:
        raise KposeError(f"unknown compile part {part!r}: expected one of {', '.join(PARTS)}")
    if override is not None:
        return bool(override)
    setting = os.environ.get("KPOSE_XLA", "auto").strip().lower()
    if setting in ("", "auto"):
        return accelerator_present() or part in _ON_CPU
    if setting == "all":
        return True
    if setting == "none":
        return False
    chosen = {p.strip() for p in setting.split(",") if p.strip()}
    unknown = chosen - set(PARTS)
    if unknown:
        raise KposeError(
            f"KPOSE_XLA={setting!r}: unknown part(s) {', '.join(sorted(unknown))}; expected "
            f"auto, all, none or a comma-separated list of {', '.join(PARTS)}"
        )
    return part in chosen


def describe() -> str:
    """The device kpose computes on, for benchmark headers: ``"GPU x2 (name)"`` or ``"CPU"``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU x{len(gpus)} ({details.get('device_name', 'unknown')})"
    if tf.config.list_logical_devices("TPU"):
        return "TPU"
    return f"CPU ({os.cpu_count()} cores)"
