"""MMPose's warp functions exactly, one box at a time, in NumPy and OpenCV.

The same float32 point pairs, ``cv2.getAffineTransform`` and ``cv2.warpAffine`` as MMPose's
``TopdownAffine``, so a crop made here equals MMPose's bit for bit. The validation pipeline
crops with these; ``affine`` (training) and ``cv2_exact`` (inference, serving) are tested
against them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def get_warp_matrix(
    center, scale, rotation: float, output_size: tuple[int, int], inverse: bool = False
) -> np.ndarray:
    """MMPose's ``get_warp_matrix`` exactly (float32 point pairs, ``cv2.getAffineTransform``).

    One box: centre (2,), scale (2,), rotation in degrees. Returns a (2, 3) float64 matrix
    image -> crop, or crop -> image with ``inverse=True``. Pass the rotation as MMPose holds
    it (a float32 from an augmentation array, a Python float at inference): its sine and
    cosine are taken in that precision, as MMPose takes them.
    """
    center = np.asarray(center, np.float32)
    theta = np.deg2rad(rotation)
    sin, cos = np.sin(theta), np.cos(theta)
    half = np.float64(np.float32(scale[0])) * -0.5
    out_w, out_h = output_size
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([half * np.float64(cos), half * np.float64(sin)])
    dst[0] = (out_w * 0.5, out_h * 0.5)
    dst[1] = (0.0, out_h * 0.5)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point that makes (a, b, c) a right angle at b, turning b - a by +90 degrees."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=a.dtype)


def get_udp_warp_matrix(center, scale, rotation: float, output_size: tuple[int, int]) -> np.ndarray:
    """MMPose's ``get_udp_warp_matrix`` for one box, (2, 3) float32.

    Computed in float64 from the float32 centre, scale and angle, then rounded, as MMPose's
    arithmetic on NumPy scalars does.
    """
    theta = float(np.deg2rad(rotation))
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = (float(v) * 2.0 for v in np.asarray(center, np.float32))  # MMPose's "input size"
    sw, sh = (float(v) for v in np.asarray(scale, np.float32))
    sx = (output_size[0] - 1) / sw
    sy = (output_size[1] - 1) / sh
    return np.array(
        [
            [cos * sx, -sin * sx, sx * (-0.5 * cx * cos + 0.5 * cy * sin + 0.5 * sw)],
            [sin * sy, cos * sy, sy * (-0.5 * cx * sin - 0.5 * cy * cos + 0.5 * sh)],
        ]
    ).astype(np.float32)


def warp_affine(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """``cv2.warpAffine`` with bilinear sampling and a zero border (MMPose's crop)."""
    return cv2.warpAffine(
        image,
        np.asarray(matrix, np.float64),
        tuple(int(s) for s in output_size),
        flags=cv2.INTER_LINEAR,
    )


def topdown_affine(
    image: np.ndarray,
    center,
    scale,
    rotation: float,
    output_size: tuple[int, int],
    use_udp: bool = False,
):
    """Crop one instance exactly as MMPose's ``TopdownAffine`` (scale already aspect-fixed).

    Returns the (h, w, 3) crop and its (2, 3) image -> crop matrix.
    """
    if use_udp:
        matrix = get_udp_warp_matrix(center, scale, rotation, output_size)
    else:
        matrix = get_warp_matrix(center, scale, rotation, output_size)
    return warp_affine(image, matrix, output_size), matrix
