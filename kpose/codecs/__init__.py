"""Codecs: keypoints in input-crop pixels <-> heatmaps ``(N, h, w, K)``, and flip-test helpers.

Sizes are ``(w, h)`` as in MMPose. ``encode`` builds training targets, ``decode`` turns
(flip-test fused) heatmaps back into keypoints; both are batched TF ops. ``MSRAHeatmap``
(+ DARK), ``UDPHeatmap`` (+ DARK-UDP) and ``MegviiHeatmap`` (MSPN/RSN) follow MMPose 1.3.2.
"""

from kpose.codecs.megvii import MegviiHeatmap
from kpose.codecs.msra import MSRAHeatmap, flip_heatmaps, flip_test_average
from kpose.codecs.udp import UDPHeatmap

__all__ = ["MSRAHeatmap", "MegviiHeatmap", "UDPHeatmap", "flip_heatmaps", "flip_test_average"]
