"""Codecs: keypoints in input-crop pixels <-> heatmaps ``(N, h, w, K)``, and flip-test helpers.

Sizes are ``(w, h)`` as in MMPose. ``encode`` builds training targets, ``decode`` turns
(flip-test fused) heatmaps back into keypoints; both are batched TF ops.
"""

from kpose.codecs.msra import MSRAHeatmap, flip_heatmaps, flip_test_average

__all__ = ["MSRAHeatmap", "flip_heatmaps", "flip_test_average"]
