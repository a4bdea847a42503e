"""OpenCV's crop arithmetic redone in batched TensorFlow ops (inference and serving).

MMPose crops with ``cv2.getAffineTransform`` (a 6x6 LU solve in float64) and
``cv2.warpAffine`` (float64 inverse, 1/32-pixel fixed-point sample positions, 15-bit integer
bilinear weights, uint8 output). The functions here redo that arithmetic step for step, so a
SavedModel crops as ``reference`` (and MMPose) does without OpenCV. The float64 matrix steps
must run outside XLA (which may fuse a multiply and an add into one rounding); the warp itself
is integer arithmetic and gathers and compiles with XLA.
"""

from __future__ import annotations

import tensorflow as tf

_AB_BITS, _INTER_BITS = 10, 5  # OpenCV's warpAffine: 1/1024 steps, rounded to 1/32 pixel
_COEF_BITS = 15  # INTER_REMAP_COEF_BITS: bilinear weights sum to 2**15


def affine_from_points(src, dst) -> tf.Tensor:
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


def get_warp_matrix(center, scale, output_size: tuple[int, int]) -> tf.Tensor:
    """``reference.get_warp_matrix`` (no rotation) for (N, 2) centres and aspect-fixed scales:
    the same float32 point pairs and ``affine_from_points``. Returns (N, 2, 3) float64."""
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
    return affine_from_points(src, dst)


def get_udp_warp_matrix(center, scale, output_size: tuple[int, int]) -> tf.Tensor:
    """``reference.get_udp_warp_matrix`` (no rotation) for (N, 2) centres and scales: the float64
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


def warp_affine(images, image_index, matrix, output_size: tuple[int, int]) -> tf.Tensor:
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
