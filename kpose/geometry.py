"""Box and affine-warp geometry of top-down pose estimation, in MMPose's conventions.

Coordinates are pixel indices in (x, y) order (pixel centres at integers, as OpenCV's
``warpAffine`` uses them); sizes are (w, h). A box is summarised as a centre and a "scale",
the (w, h) of the region the crop covers. ``get_warp_matrix`` maps that region onto the
model input so that the centre lands on (w / 2, h / 2) (MMPose's ``get_warp_matrix``);
``get_udp_warp_matrix`` is the unbiased variant with the centre on ((w - 1) / 2, (h - 1) / 2).

Two families of functions live here: batched TensorFlow ops for the training step (run on the
accelerator, float32) and exact NumPy/OpenCV ops for validation and inference crops, which
reproduce MMPose's ``TopdownAffine`` bit for bit (the same float32 points, the same
``cv2.getAffineTransform`` and ``cv2.warpAffine``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

# ------------------------------------------------------------------- boxes (TF and NumPy)


def bbox_xyxy_to_center_scale(bbox_xyxy, padding: float = 1.25):
    """(..., 4) boxes -> centre (..., 2) and padded scale (..., 2) (``GetBBoxCenterScale``)."""
    x1y1, x2y2 = bbox_xyxy[..., :2], bbox_xyxy[..., 2:]
    return (x1y1 + x2y2) * 0.5, (x2y2 - x1y1) * padding


def fix_aspect_ratio(scale, aspect_ratio: float):
    """Grow the shorter side of (..., 2) scales so that w / h == aspect_ratio (``TopdownAffine``).

    Works on tensors and arrays; follows MMPose: if w > h * r then h = w / r, else w = h * r.
    """
    w, h = scale[..., 0], scale[..., 1]
    if isinstance(scale, np.ndarray):
        wide = w > h * aspect_ratio
        return np.stack(
            [np.where(wide, w, h * aspect_ratio), np.where(wide, w / aspect_ratio, h)], axis=-1
        )
    wide = w > h * aspect_ratio
    return tf.stack(
        [tf.where(wide, w, h * aspect_ratio), tf.where(wide, w / aspect_ratio, h)], axis=-1
    )


# ------------------------------------------------------------------------ TF, batched


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


def warp_affine_float(images, matrix, output_size: tuple[int, int]) -> tf.Tensor:
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


# --------------------------------------------------------------- NumPy/OpenCV, exact


def get_warp_matrix_np(
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


def get_udp_warp_matrix_np(
    center, scale, rotation: float, output_size: tuple[int, int]
) -> np.ndarray:
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


def warp_affine_uint8(
    image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]
) -> np.ndarray:
    """``cv2.warpAffine`` with bilinear sampling and a zero border (MMPose's crop)."""
    return cv2.warpAffine(
        image,
        np.asarray(matrix, np.float64),
        tuple(int(s) for s in output_size),
        flags=cv2.INTER_LINEAR,
    )


def topdown_affine_np(
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
        matrix = get_udp_warp_matrix_np(center, scale, rotation, output_size)
    else:
        matrix = get_warp_matrix_np(center, scale, rotation, output_size)
    return warp_affine_uint8(image, matrix, output_size), matrix


def topdown_affine(
    image: tf.Tensor,
    center: tf.Tensor,
    scale: tf.Tensor,
    output_size: tuple[int, int],
    use_udp: bool = False,
):
    """``topdown_affine_np`` as a TF op for tf.data (one instance, no rotation).

    ``image`` is (H, W, 3) uint8; returns the (h, w, 3) uint8 crop and the float32 matrix.
    """

    def crop(img, c, s):
        out, matrix = topdown_affine_np(img, c, s, 0.0, output_size, use_udp)
        return out, matrix.astype(np.float32)

    out, matrix = tf.numpy_function(
        crop, [image, center, scale], [tf.uint8, tf.float32], stateful=False
    )
    w, h = output_size
    out.set_shape([h, w, 3])
    matrix.set_shape([2, 3])
    return out, matrix


# ------------------------------------------- TF, OpenCV's arithmetic (inference and serving)
# MMPose crops with cv2.getAffineTransform (a 6x6 LU solve in float64) and cv2.warpAffine
# (float64 inverse, 1/32-pixel fixed-point sample positions, 15-bit integer bilinear weights,
# uint8 output). The functions below redo that arithmetic step for step in TF ops, so a
# SavedModel crops as MMPose does without OpenCV. The float64 matrix steps must run outside
# XLA (which may fuse a multiply and an add into one rounding); the warp itself is integer
# arithmetic and gathers and compiles with XLA.

_AB_BITS, _INTER_BITS = 10, 5  # OpenCV's warpAffine: 1/1024 steps, rounded to 1/32 pixel
_COEF_BITS = 15  # INTER_REMAP_COEF_BITS: bilinear weights sum to 2**15


def affine_from_points_cv2(src, dst) -> tf.Tensor:
    """``cv2.getAffineTransform`` for (N, 3, 2) point triples: (N, 2, 3) float64.

    The 6x6 system ``[x y 1 0 0 0; 0 0 0 x y 1] m = [u; v]`` solved by OpenCV's LU (partial
    pivoting on the first largest pivot, elimination with ``-1 / pivot``, back-substitution by
    division), operation for operation, so the result equals OpenCV's bit for bit.
    """
    src = tf.cast(src, tf.float64)
    dst = tf.cast(dst, tf.float64)
    zero, one = tf.zeros_like(src[:, 0, 0]), tf.ones_like(src[:, 0, 0])
    rows, rhs = [], []
    for i in range(3):
        x, y = src[:, i, 0], src[:, i, 1]
        rows += [[x, y, one, zero, zero, zero], [zero, zero, zero, x, y, one]]
        rhs += [dst[:, i, 0], dst[:, i, 1]]
    a = [list(r) for r in rows]  # a[row][col]: (N,) tensors
    b = list(rhs)
    m = 6
    for i in range(m):
        k = tf.fill(tf.shape(one), i)
        best = tf.abs(a[i][i])
        for j in range(i + 1, m):
            better = tf.abs(a[j][i]) > best
            k = tf.where(better, j, k)
            best = tf.where(better, tf.abs(a[j][i]), best)
        # swap row i with row k (k >= i), per box
        for j in range(i + 1, m):
            take = tf.equal(k, j)
            for col in range(i, m):
                a[i][col], a[j][col] = (
                    tf.where(take, a[j][col], a[i][col]),
                    tf.where(take, a[i][col], a[j][col]),
                )
            b[i], b[j] = tf.where(take, b[j], b[i]), tf.where(take, b[i], b[j])
        d = -1.0 / a[i][i]
        for j in range(i + 1, m):
            alpha = a[j][i] * d
            for col in range(i + 1, m):
                a[j][col] = a[j][col] + alpha * a[i][col]
            b[j] = b[j] + alpha * b[i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, m):
            s = s - a[i][k] * b[k]
        b[i] = s / a[i][i]
    return tf.reshape(tf.stack(b, axis=-1), [-1, 2, 3])


def get_warp_matrix_cv2(center, scale, output_size: tuple[int, int]) -> tf.Tensor:
    """``get_warp_matrix_np`` (no rotation) for (N, 2) centres and aspect-fixed scales, in TF:
    the same float32 point pairs and ``affine_from_points_cv2``. Returns (N, 2, 3) float64."""
    center = tf.cast(center, tf.float32)
    half = tf.cast(tf.cast(scale[:, 0], tf.float32), tf.float64) * -0.5
    out_w, out_h = output_size
    p0 = center
    p1 = tf.cast(
        tf.cast(center, tf.float64) + tf.stack([half, tf.zeros_like(half)], -1), tf.float32
    )
    n = tf.shape(center)[0]
    q0 = tf.tile(tf.constant([[out_w * 0.5, out_h * 0.5]], tf.float32), [n, 1])
    q1 = tf.tile(tf.constant([[0.0, out_h * 0.5]], tf.float32), [n, 1])

    def third(a, b):
        d = a - b
        return b + tf.stack([-d[:, 1], d[:, 0]], -1)

    src = tf.stack([p0, p1, third(p0, p1)], axis=1)
    dst = tf.stack([q0, q1, third(q0, q1)], axis=1)
    return affine_from_points_cv2(src, dst)


def get_udp_warp_matrix_tf(center, scale, output_size: tuple[int, int]) -> tf.Tensor:
    """``get_udp_warp_matrix_np`` (no rotation) for (N, 2) centres and scales: the float64
    arithmetic rounded to float32, returned as float64 (what ``cv2.warpAffine`` reads)."""
    c = tf.cast(tf.cast(center, tf.float32), tf.float64) * 2.0
    s = tf.cast(tf.cast(scale, tf.float32), tf.float64)
    sx = (output_size[0] - 1) / s[:, 0]
    sy = (output_size[1] - 1) / s[:, 1]
    zero = tf.zeros_like(sx)
    row0 = tf.stack([sx, zero, sx * (-0.5 * c[:, 0] + 0.5 * s[:, 0])], -1)
    row1 = tf.stack([zero, sy, sy * (-0.5 * c[:, 1] + 0.5 * s[:, 1])], -1)
    matrix = tf.stack([row0, row1], axis=1)
    return tf.cast(tf.cast(matrix, tf.float32), tf.float64)


def warp_affine_cv2(images, image_index, matrix, output_size: tuple[int, int]) -> tf.Tensor:
    """``cv2.warpAffine(image, M, output_size, flags=INTER_LINEAR)`` (zero border) in TF.

    Args:
        images: (B, H, W, C) uint8; images of different sizes zero-padded at the bottom/right
            (the padding reads like OpenCV's constant border).
        image_index: (N,) int, the image each crop comes from.
        matrix: (N, 2, 3) float64 image -> crop matrices (as ``cv2.getAffineTransform`` gives).
        output_size: (w, h).

    Returns (N, h, w, C) uint8, equal to OpenCV's result. The float64 inverse and the
    fixed-point rounding are OpenCV's (``warpAffine``: 10-bit steps rounded to 1/32 pixel;
    ``remap``: 15-bit bilinear weights, round half up).
    """
    m = tf.cast(matrix, tf.float64)
    m0, m1, m2 = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    m3, m4, m5 = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    det = m0 * m4 - m1 * m3
    inv_det = tf.where(tf.not_equal(det, 0.0), 1.0 / det, tf.zeros_like(det))
    a11, a22 = m4 * inv_det, m0 * inv_det
    m0, m1, m3, m4 = a11, m1 * -inv_det, m3 * -inv_det, a22
    b1 = -m0 * m2 - m1 * m5
    b2 = -m3 * m2 - m4 * m5
    m2, m5 = b1, b2
    return _remap_fixed_point(
        images, image_index, tf.stack([m0, m1, m2, m3, m4, m5], -1), output_size
    )


def _remap_fixed_point(images, image_index, inverse, output_size) -> tf.Tensor:
    """The integer part of OpenCV's warpAffine + bilinear remap, from the (N, 6) float64
    destination -> source matrices."""
    out_w, out_h = int(output_size[0]), int(output_size[1])
    scale = float(1 << _AB_BITS)
    round_delta = (1 << _AB_BITS) // (1 << _INTER_BITS) // 2
    xs = tf.range(out_w, dtype=tf.float64)
    ys = tf.range(out_h, dtype=tf.float64)
    i = [inverse[:, k : k + 1] for k in range(6)]  # (N, 1) each
    adelta = tf.cast(tf.round(i[0] * xs * scale), tf.int32)  # (N, w)
    bdelta = tf.cast(tf.round(i[3] * xs * scale), tf.int32)
    x0 = tf.cast(tf.round((i[1] * ys + i[2]) * scale), tf.int32) + round_delta  # (N, h)
    y0 = tf.cast(tf.round((i[4] * ys + i[5]) * scale), tf.int32) + round_delta
    shift = _AB_BITS - _INTER_BITS
    x = tf.bitwise.right_shift(x0[:, :, None] + adelta[:, None, :], shift)  # (N, h, w)
    y = tf.bitwise.right_shift(y0[:, :, None] + bdelta[:, None, :], shift)
    mask = (1 << _INTER_BITS) - 1
    ix, fx = tf.bitwise.right_shift(x, _INTER_BITS), tf.bitwise.bitwise_and(x, mask)
    iy, fy = tf.bitwise.right_shift(y, _INTER_BITS), tf.bitwise.bitwise_and(y, mask)

    images = tf.convert_to_tensor(images)
    height, width, channels = tf.shape(images)[1], tf.shape(images)[2], tf.shape(images)[3]
    flat = tf.reshape(tf.cast(images, tf.int32), [-1, channels])  # (B*H*W, C)
    base = tf.cast(image_index, tf.int32)[:, None, None] * (height * width)

    def tap(px, py):
        inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
        index = (
            base + tf.clip_by_value(py, 0, height - 1) * width + tf.clip_by_value(px, 0, width - 1)
        )
        return tf.gather(flat, index) * tf.cast(inside, tf.int32)[..., None]  # (N, h, w, C)

    one = 1 << _INTER_BITS
    wx1, wy1 = fx[..., None], fy[..., None]
    wx0, wy0 = one - wx1, one - wy1
    weight = 1 << (_COEF_BITS - 2 * _INTER_BITS)  # 32: the weights are (32-fx)(32-fy)*32, ...
    total = (
        tap(ix, iy) * wx0 * wy0
        + tap(ix + 1, iy) * wx1 * wy0
        + tap(ix, iy + 1) * wx0 * wy1
        + tap(ix + 1, iy + 1) * wx1 * wy1
    ) * weight
    value = tf.bitwise.right_shift(total + (1 << (_COEF_BITS - 1)), _COEF_BITS)
    return tf.cast(value, tf.uint8)
