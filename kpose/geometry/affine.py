"""Batched TensorFlow warps of the training step: warp matrices, point transforms, bilinear warp.

Float32 ops on (B, ...) batches that run on the accelerator and compile under XLA. The warp
matrices are MMPose's ``get_warp_matrix`` (the box centre lands on (w / 2, h / 2)) and
``get_udp_warp_matrix`` (unbiased: the centre lands on ((w - 1) / 2, (h - 1) / 2)), written in
closed form; ``reference`` holds the one-box NumPy/OpenCV originals they are tested against.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def get_warp_matrix(center, scale, rotation, output_size: tuple[int, int]) -> tf.Tensor:
    """Batched MMPose ``get_warp_matrix``: image -> crop affine, (B, 2, 3) float32.

    Args:
        center: (B, 2) box centres in image pixels.
        scale: (B, 2) aspect-fixed box sizes (w, h); only the width sets the zoom, as in
            MMPose with ``fix_aspect_ratio=True``.
        rotation: (B,) in-plane rotation in degrees (counter-clockwise in the image).
        output_size: (w, h) of the crop.

    The matrix is a similarity: zoom k = out_w / scale_w, rotation by ``rotation``, and the
    centre maps to (out_w / 2, out_h / 2).
    """
    center = tf.cast(center, tf.float32)
    scale = tf.cast(scale, tf.float32)
    theta = tf.cast(rotation, tf.float32) * (np.pi / 180.0)
    out_w, out_h = float(output_size[0]), float(output_size[1])
    k = out_w / scale[:, 0]
    cos, sin = tf.cos(theta) * k, tf.sin(theta) * k
    # x' = k R(-theta) (x - c) + out/2 ; R(-theta) undoes the box's rotation.
    tx = out_w * 0.5 - (cos * center[:, 0] + sin * center[:, 1])
    ty = out_h * 0.5 - (-sin * center[:, 0] + cos * center[:, 1])
    return tf.stack([tf.stack([cos, sin, tx], -1), tf.stack([-sin, cos, ty], -1)], axis=1)


def get_udp_warp_matrix(center, scale, rotation, output_size: tuple[int, int]) -> tf.Tensor:
    """Batched MMPose ``get_udp_warp_matrix`` (unbiased data processing), (B, 2, 3) float32.

    sx = (out_w - 1) / scale_w and sy = (out_h - 1) / scale_h; the centre maps to
    ((out_w - 1) / 2, (out_h - 1) / 2).
    """
    center = tf.cast(center, tf.float32)
    scale = tf.cast(scale, tf.float32)
    theta = tf.cast(rotation, tf.float32) * (np.pi / 180.0)
    sx = (float(output_size[0]) - 1.0) / scale[:, 0]
    sy = (float(output_size[1]) - 1.0) / scale[:, 1]
    cos, sin = tf.cos(theta), tf.sin(theta)
    cx, cy = center[:, 0], center[:, 1]
    row0 = tf.stack([cos * sx, -sin * sx, sx * (-cx * cos + cy * sin + 0.5 * scale[:, 0])], -1)
    row1 = tf.stack([sin * sy, cos * sy, sy * (-cx * sin - cy * cos + 0.5 * scale[:, 1])], -1)
    return tf.stack([row0, row1], axis=1)


def transform_points(points, matrix) -> tf.Tensor:
    """Apply (B, 2, 3) affines to (B, K, 2) points -> (B, K, 2) float32."""
    points = tf.cast(points, tf.float32)
    matrix = tf.cast(matrix, tf.float32)
    return tf.einsum("bij,bkj->bki", matrix[:, :, :2], points) + matrix[:, None, :, 2]


def invert_affine(matrix) -> tf.Tensor:
    """Inverse of (B, 2, 3) affine matrices."""
    matrix = tf.cast(matrix, tf.float32)
    a, b, c = matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 0, 2]
    d, e, f = matrix[:, 1, 0], matrix[:, 1, 1], matrix[:, 1, 2]
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return tf.stack(
        [tf.stack([ia, ib, -(ia * c + ib * f)], -1), tf.stack([id_, ie, -(id_ * c + ie * f)], -1)],
        axis=1,
    )


def warp_affine(images, matrix, output_size: tuple[int, int]) -> tf.Tensor:
    """Batched bilinear ``warpAffine`` with a zero border, on the device.

    Args:
        images: (B, H, W, C) float images.
        matrix: (B, 2, 3) source -> destination affines (OpenCV's convention, pixel centres
            at integer coordinates).
        output_size: (w, h) of the result.

    Returns (B, h, w, C) float32. Neighbours outside the source count as zero, as OpenCV's
    ``BORDER_CONSTANT`` does; written with gathers so it compiles under XLA.
    """
    images = tf.cast(images, tf.float32)
    out_w, out_h = int(output_size[0]), int(output_size[1])
    inv = invert_affine(matrix)  # (B, 2, 3), destination -> source
    ys, xs = tf.meshgrid(
        tf.range(out_h, dtype=tf.float32), tf.range(out_w, dtype=tf.float32), indexing="ij"
    )
    grid = tf.reshape(tf.stack([xs, ys], -1), [1, -1, 2])  # (1, h*w, 2)
    batch = tf.shape(images)[0]
    src = transform_points(tf.tile(grid, [batch, 1, 1]), inv)  # (B, h*w, 2)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    x0 = tf.floor(src[..., 0])
    y0 = tf.floor(src[..., 1])
    fx = src[..., 0] - x0
    fy = src[..., 1] - y0
    x0 = tf.cast(x0, tf.int32)
    y0 = tf.cast(y0, tf.int32)
    flat = tf.reshape(images, [batch, -1, tf.shape(images)[3]])  # (B, H*W, C)

    def tap(x, y):
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        index = tf.clip_by_value(y, 0, height - 1) * width + tf.clip_by_value(x, 0, width - 1)
        values = tf.gather(flat, index, batch_dims=1)  # (B, h*w, C)
        return values * tf.cast(inside, tf.float32)[..., None]

    wx, wy = fx[..., None], fy[..., None]
    out = (1 - wy) * ((1 - wx) * tap(x0, y0) + wx * tap(x0 + 1, y0)) + wy * (
        (1 - wx) * tap(x0, y0 + 1) + wx * tap(x0 + 1, y0 + 1)
    )
    return tf.reshape(out, [batch, out_h, out_w, tf.shape(images)[3]])
