"""Codecs: keypoints in input-crop pixels <-> heatmaps ``(N, h, w, K)``, and flip-test helpers.

Sizes are ``(w, h)`` as in MMPose. ``encode`` builds training targets, ``decode`` turns
(flip-test fused) heatmaps back into keypoints; both are batched TF ops. ``MSRAHeatmap``
(+ DARK), ``UDPHeatmap`` (+ DARK-UDP; and combined disc + offset maps) and ``MegviiHeatmap``
(MSPN/RSN) follow MMPose 1.3.2.
"""

from kpose.codecs.megvii import MegviiHeatmap
from kpose.codecs.msra import MSRAHeatmap, flip_heatmaps, flip_test_average
from kpose.codecs.udp import UDPHeatmap
from kpose.errors import RecipeError

__all__ = [
    "MSRAHeatmap",
    "MegviiHeatmap",
    "UDPHeatmap",
    "flip_heatmaps",
    "flip_test_average",
    "make_codec",
]


def make_codec(recipe):
    """The recipe's codec: ``msra`` (``unbiased`` for DARK), ``udp`` (``heatmap_type``
    gaussian or combined) or ``megvii`` (whose Gaussian kernel is ``blur_kernel_size``)."""
    c = recipe.codec
    if c.type == "msra":
        return MSRAHeatmap(
            c.input_size,
            c.heatmap_size,
            sigma=c.sigma,
            unbiased=c.unbiased,
            blur_kernel_size=c.blur_kernel_size,
        )
    if c.type == "udp":
        return UDPHeatmap(
            c.input_size,
            c.heatmap_size,
            heatmap_type=c.heatmap_type,
            sigma=c.sigma,
            blur_kernel_size=c.blur_kernel_size,
            radius_factor=c.radius_factor,
        )
    if c.type == "megvii":
        return MegviiHeatmap(c.input_size, c.heatmap_size, kernel_size=c.blur_kernel_size)
    raise RecipeError(
        f"{recipe.source}: key 'codec.type': expected 'msra', 'udp' or 'megvii', got {c.type!r}"
    )


def make_training_codecs(recipe) -> list:
    """The codecs that encode the training targets: one per level of ``codec.kernel_sizes``
    (Megvii multi-level targets, MMPose's ``GenerateTarget(multilevel=True)``), else the
    recipe's codec."""
    c = recipe.codec
    if not c.kernel_sizes:
        return [make_codec(recipe)]
    if c.type != "megvii":
        raise RecipeError(
            f"{recipe.source}: key 'codec.kernel_sizes': multi-level targets need codec.type "
            f"'megvii', got codec.type {c.type!r}"
        )
    return [MegviiHeatmap(c.input_size, c.heatmap_size, kernel_size=k) for k in c.kernel_sizes]
