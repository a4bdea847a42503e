"""Keypoints of one dataset as another's: MMPose's ``KeypointConverter``, batched in TF.

A recipe's training data may combine record sets of different keypoint sets
(``data.train_sets``, MMPose's ``CombinedDataset``); each set's ``keypoint_mapping`` lists
``(source, target)`` pairs from its records' keypoints to the model's. A target is the source
keypoint, or with a pair ``(a, b)`` as source the midpoint of the two (MMPose's interpolation),
visible as the product of the sources' visibilities; targets no pair names are zero and
invisible. MMPose switches to its interpolation arithmetic for every target as soon as one
source is a pair (``0.5 * (x + x)`` and ``v * v`` for the plain ones), and so does this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class KeypointMapping:
    """``pairs`` as ``((a, b), target)`` (``a == b`` for a plain source index, the form
    ``kpose.recipe`` normalises a recipe's mapping to) into ``num_keypoints`` targets."""

    pairs: tuple[tuple[tuple[int, int], int], ...]
    num_keypoints: int

    @property
    def num_sources_needed(self) -> int:
        """One more than the largest source index: the records need at least this many."""
        return 1 + max((max(src) for src, _ in self.pairs), default=-1)

    @property
    def interpolation(self) -> bool:
        return any(a != b for (a, b), _ in self.pairs)

    def apply(self, keypoints, keypoints_visible):
        """``keypoints (..., K_src, 2)`` and ``keypoints_visible (..., K_src)`` (float32,
        numpy or TF) -> the targets' ``(..., K, 2)`` and ``(..., K)`` as TF tensors."""
        keypoints = tf.convert_to_tensor(keypoints, tf.float32)
        visible = tf.convert_to_tensor(keypoints_visible, tf.float32)
        src_a, src_b, mapped = self._gather_indices()
        mapped_k = tf.constant(mapped)[:, None]
        kp_a = tf.gather(keypoints, src_a, axis=-2)  # (..., K, 2)
        vis_a = tf.gather(visible, src_a, axis=-1)  # (..., K)
        if self.interpolation:
            kp_a = 0.5 * (kp_a + tf.gather(keypoints, src_b, axis=-2))
            vis_a = vis_a * tf.gather(visible, src_b, axis=-1)
        return (
            tf.where(mapped_k, kp_a, tf.zeros_like(kp_a)),
            tf.where(tf.constant(mapped), vis_a, tf.zeros_like(vis_a)),
        )

    def _gather_indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per target: the source indices ``a`` and ``b`` (0 where unmapped) and whether it is
        mapped."""
        src_a = np.zeros(self.num_keypoints, np.int32)
        src_b = np.zeros(self.num_keypoints, np.int32)
        mapped = np.zeros(self.num_keypoints, bool)
        for (a, b), target in self.pairs:
            src_a[target], src_b[target], mapped[target] = a, b, True
        return src_a, src_b, mapped


def keypoint_mapping(pairs: Sequence, num_keypoints: int) -> KeypointMapping | None:
    """The mapping of a recipe's normalised ``pairs`` (``None`` when there are none)."""
    if not pairs:
        return None
    return KeypointMapping(
        tuple(((int(a), int(b)), int(t)) for (a, b), t in pairs), int(num_keypoints)
    )
