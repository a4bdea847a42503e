"""HRNetV2 + FeatureMapProcessor without the reference: shapes, the neck's options, the errors a
recipe gets for a bad neck, and that the concatenated map carries each branch."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError, RecipeError
from kpose.models.build import build_heatmap_model
from kpose.models.necks.feature_map_processor import feature_map_processor
from kpose.recipe import HeadConfig, ModelConfig

TINY = {
    "width": 4,
    "num_modules": [1, 1, 1],
    "num_blocks": [1, 1, 1],
    "stage1_blocks": 1,
    "stage1_channels": 4,
}


def test_hrnetv2_face_model_shapes():
    cfg = ModelConfig(
        "hrnetv2",
        TINY,
        head=HeadConfig((), (), (60,), (1,)),
        neck={"type": "feature_map_processor", "concat": True},
    )
    model = build_heatmap_model(cfg, (64, 64), 68)
    backbone = model.get_layer("backbone")
    assert [tuple(t.shape[1:]) for t in backbone.outputs] == [
        (None, None, 4),
        (None, None, 8),
        (None, None, 16),
        (None, None, 32),
    ]
    out = model(np.zeros((2, 64, 64, 3), np.float32))
    assert tuple(out.shape) == (2, 16, 16, 68)


def test_concat_resizes_every_map_to_the_first():
    neck = feature_map_processor([(None, 8, 8, 1), (None, 4, 4, 2)], concat=True)
    big = np.ones((1, 8, 8, 1), np.float32)
    small = np.arange(32, dtype=np.float32).reshape(1, 4, 4, 2)
    out = np.asarray(neck([big, small]))
    assert out.shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(out[..., 0], big[..., 0])
    # half-pixel bilinear x2: the top-left output pixel is the top-left input pixel, and the
    # mean is kept on a linear ramp
    assert out[0, 0, 0, 1] == small[0, 0, 0, 0]
    np.testing.assert_allclose(out[..., 1:].mean(axis=(1, 2)), small.mean(axis=(1, 2)), rtol=1e-6)


def test_select_relu_and_rescale():
    neck = feature_map_processor(
        [(None, 4, 4, 2), (None, 2, 2, 3)], select_index=1, apply_relu=True, scale_factor=2.0
    )
    x = -np.ones((1, 2, 2, 3), np.float32)
    out = np.asarray(neck([np.zeros((1, 4, 4, 2), np.float32), x]))
    assert out.shape == (1, 4, 4, 3) and not out.any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"select_index": 5}, "select_index"),
        ({"scale_factor": 1.5}, "scale_factor"),
    ],
)
def test_bad_neck_arguments(kwargs, match):
    with pytest.raises(ModelError, match=match):
        feature_map_processor([(None, 4, 4, 2), (None, 2, 2, 3)], **kwargs)


@pytest.mark.parametrize(
    "neck, match",
    [
        ({"type": "fpn"}, r"model\.neck\.type.*'fpn'"),
        ({"type": "feature_map_processor", "concatenate": True}, r"model\.neck\.concatenate"),
    ],
)
def test_recipe_neck_errors_name_the_key(neck, match):
    cfg = ModelConfig("hrnetv2", TINY, head=HeadConfig((), (), (60,), (1,)), neck=neck)
    with pytest.raises(RecipeError, match=match):
        build_heatmap_model(cfg, (64, 64), 68)
