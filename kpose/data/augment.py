"""On-device half of the training augmentation (DESIGN.md step 3), run inside the train step.

The input pipeline hands over coarse crops ("canvases") with the sampled augmentation folded
into one 2x3 matrix per instance (canvas -> model input, MMPose's ``get_warp_matrix`` after the
flip and box transforms). Here, batched on the replica's device: the exact bilinear warp of
the canvas to the model input, the same affine applied to the keypoints, and the codec's
heatmap encoding with target weights.
"""

from __future__ import annotations

import tensorflow as tf

from kpose import geometry


def make_training_batch(batch: dict, codec, input_size: tuple[int, int]):
    """Canvases + matrices -> (images (B, h, w, 3) float 0..255, heatmaps (B, hh, hw, K),
    target weights (B, K)). ``codec`` may be a list (multi-level targets): then heatmaps is a
    list, one per codec, and the weights are the first codec's."""
    canvas = tf.cast(batch["canvas"], tf.float32)  # (B, C, C, 3)
    matrix = tf.cast(batch["matrix"], tf.float32)  # (B, 2, 3), canvas -> input
    images = geometry.warp_affine_float(canvas, matrix, input_size)  # (B, h, w, 3)
    keypoints = geometry.transform_points(batch["keypoints"], matrix)  # (B, K, 2)
    if isinstance(codec, list | tuple):
        encoded = [c.encode(keypoints, batch["keypoints_visible"]) for c in codec]
        return images, [h for h, _ in encoded], encoded[0][1]
    heatmaps, weights = codec.encode(keypoints, batch["keypoints_visible"])
    return images, heatmaps, weights
