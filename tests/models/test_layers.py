"""The shared layers (``kpose/models/layers/``): each follows its PyTorch twin's index rules."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.layers import (
    CenterCropLike,
    ChannelShuffle,
    DropPath,
    Resample,
    ResizeAlignCorners,
    WindowAttention,
    WindowCenterPad,
    bilinear_matrix,
    conv_module,
    relative_position_index,
    resize_pos_embed,
    shifted_window_mask,
)


def _resample(mode, x, size):
    """``Resample`` of a (h, w) array to ``size = (H, W)``."""
    like = np.zeros((1, *size, 1), np.float32)
    return np.asarray(Resample(mode)([x[None, :, :, None].astype(np.float32), like]))[0, ..., 0]


def test_resample_follows_pytorch():
    column = np.arange(5.0)[:, None]
    # adaptive_avg_pool2d 5 -> 3: bins [0, 2), [1, 4), [3, 5)
    np.testing.assert_allclose(_resample("adaptive_avg", column, (3, 1))[:, 0], [0.5, 2, 3.5])
    np.testing.assert_allclose(_resample("adaptive_avg", column, (1, 1)), [[2.0]])
    # nearest 3 -> 7: source floor(dst * 3 / 7)
    np.testing.assert_array_equal(
        _resample("nearest", np.arange(3.0)[:, None], (7, 1))[:, 0], [0, 0, 0, 1, 1, 2, 2]
    )
    # bilinear, align_corners=True, 3 -> 5: the corners stay, midpoints in between
    np.testing.assert_allclose(
        _resample("bilinear", np.array([[0.0, 2.0, 8.0]]), (1, 5))[0], [0, 1, 2, 5, 8]
    )
    with pytest.raises(ModelError, match="mode"):
        Resample("area")


def test_channel_shuffle_is_pytorch_order():
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 1, 6)
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(2)(x)).ravel(), [0, 3, 1, 4, 2, 5])


def test_channel_shuffle_is_pytorch_view_transpose():
    groups, channels = 3, 12
    x = np.random.default_rng(0).normal(size=(2, 4, 5, channels)).astype(np.float32)
    nchw = x.transpose(0, 3, 1, 2)
    expected = nchw.reshape(2, groups, channels // groups, 4, 5).transpose(0, 2, 1, 3, 4)
    expected = expected.reshape(2, channels, 4, 5).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(groups)(x)), expected)


def test_resize_align_corners_matches_linear_interpolation():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)  # rows [0 1 2], [3 4 5]
    out = np.asarray(ResizeAlignCorners((3, 5))(x))[0, ..., 0]
    np.testing.assert_allclose(out[0], [0, 0.5, 1, 1.5, 2])  # corners kept, midpoints between
    np.testing.assert_allclose(out[:, 0], [0, 1.5, 3])
    like = np.zeros((1, 4, 1, 1), np.float32)
    column = np.asarray(ResizeAlignCorners()([x, like]))[0, :, 0, 0]
    np.testing.assert_allclose(column, [0, 1, 2, 3])  # 1-wide output samples column 0


def test_bilinear_matrix():
    np.testing.assert_array_equal(bilinear_matrix(7, 7), np.eye(7, dtype=np.float32))
    for n_in, n_out in [(56, 24), (56, 64), (1, 5), (4, 9)]:
        m = bilinear_matrix(n_in, n_out)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    # 2 -> 4: sample points 0, 0.25, 0.75, 1 (clamped at the borders)
    np.testing.assert_allclose(
        bilinear_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], atol=1e-7
    )


def test_nearest_resample_is_pytorch_nearest():
    x = np.arange(6, dtype="float32").reshape(1, 3, 2, 1)  # (B, h=3, w=2, C)
    out = np.asarray(Resample("nearest")([x, np.zeros((1, 13, 5, 4), "float32")]))
    assert out.shape == (1, 13, 5, 1)
    # F.interpolate(size=(13, 5)) reads rows floor(i * 3 / 13), cols floor(j * 2 / 5)
    rows, cols = [0] * 5 + [1] * 4 + [2] * 4, [0, 0, 0, 1, 1]
    np.testing.assert_array_equal(out[0, :, :, 0], x[0, rows][:, cols, 0])


def test_relative_position_index_and_mask():
    index = relative_position_index(7)
    assert index.shape == (49, 49) and index.min() == 0 and index.max() == 13 * 13 - 1
    assert np.all(np.diag(index) == 6 * 13 + 6)  # zero offset is the table's centre row
    mask = shifted_window_mask(70, 49, 7, 3)  # 64x48 tokens padded to 70x49
    assert mask.shape == (10 * 7, 49, 49)
    assert set(np.unique(mask)) == {0.0, -100.0}
    assert not mask[0].any()  # interior windows see no region border
    assert mask[-1].any()  # the corner window mixes regions


def test_window_center_pad_and_crop():
    x = np.arange(10 * 6, dtype="float32").reshape(1, 10, 6, 1)
    padded = np.asarray(WindowCenterPad(7)(x))
    assert padded.shape == (1, 14, 7, 1)  # pad 4 rows (2 above, 2 below), 1 column right
    np.testing.assert_array_equal(padded[0, 2:12, :6, 0], x[0, :, :, 0])
    assert not padded[0, :2].any() and not padded[0, 12:].any() and not padded[0, :, 6].any()
    np.testing.assert_array_equal(np.asarray(CenterCropLike()([padded, x])), x)
    assert np.asarray(WindowCenterPad(7)(np.ones((1, 14, 7, 2), "float32"))).shape == (1, 14, 7, 2)


def test_relative_position_index_is_mmposes():
    # MMPose's construction: coords i * (2w - 1) + j, summed over token pairs, flipped on axis 1.
    w = 7
    coords = (np.arange(w)[:, None] * (2 * w - 1) + np.arange(w)[None, :]).reshape(1, -1)
    expected = np.flip(coords + coords.T, axis=1)
    np.testing.assert_array_equal(relative_position_index(w), expected)


def test_drop_path_drops_whole_samples_in_training_only():
    layer = DropPath(0.5)
    x = np.ones((64, 3, 4), np.float32)
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    per_sample = y.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))  # all or nothing
    assert 10 < np.count_nonzero(per_sample[:, 0]) < 54


def test_pos_embed_adaptation():
    grid = np.arange(2 * 3 * 5, dtype=np.float32).reshape(1, 6, 5)
    assert resize_pos_embed(grid, (2, 3)) is grid
    with_slot = np.concatenate([np.full((1, 1, 5), -1.0, np.float32), grid], axis=1)
    np.testing.assert_array_equal(resize_pos_embed(with_slot, (2, 3)), grid)
    constant = np.ones((1, 196, 4), np.float32)
    np.testing.assert_allclose(
        resize_pos_embed(constant, (16, 12)), np.ones((1, 192, 4)), atol=1e-6
    )  # cubic weights sum to 1
    with pytest.raises(Exception, match="square"):
        resize_pos_embed(np.ones((1, 7, 4), np.float32), (16, 12))


def test_conv_module_names_bias_and_depthwise():
    x = keras.Input((8, 8, 4))
    y = conv_module(x, 4, 3, "m", groups=4, act="relu6")
    model = keras.Model(x, y)
    conv = model.get_layer("m.conv")
    assert isinstance(conv, keras.layers.DepthwiseConv2D) and not conv.use_bias
    assert model.get_layer("m.bn").epsilon == 1e-5
    assert model.get_layer("m.activate").max_value == 6.0
    plain = keras.Model(x, conv_module(x, 6, 1, "p", norm=False, act=None, names=("0", "1", "2")))
    assert [layer.name for layer in plain.layers[1:]] == ["p.0"] and plain.layers[1].use_bias


def test_window_attention_checks_its_map():
    with pytest.raises(ModelError, match="shift_size"):
        WindowAttention(2, 7, shift_size=7)
    with pytest.raises(ModelError, match="multiples of the window"):
        WindowAttention(2, 7)(keras.Input((10, 14, 24)))
