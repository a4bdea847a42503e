"""ViTPose's ViT in Keras: shapes, saving, XLA, stochastic depth, pos_embed adaptation."""

from __future__ import annotations

import numpy as np

from kpose.models.backbones.vit import vit
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig

TINY = {"embed_dims": 32, "num_layers": 2, "num_heads": 4, "feedforward_channels": 64}
CLASSIC = HeadConfig((32, 32), (4, 4))


def _model(head=CLASSIC):
    cfg = ModelConfig("vit", {"arch": TINY, "img_size": [96, 64], "drop_path_rate": 0.2}, head=head)
    return build_heatmap_model(cfg, (64, 96), 17)


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)


def test_token_grid_and_output_shapes():
    backbone = vit(TINY, img_size=(256, 192))
    assert backbone.output.shape[1:] == (16, 12, 32)  # patch 16, padding 2
    assert vit("small", img_size=(256, 192)).count_params() > 21e6
    assert _model()(_images()).shape == (2, 24, 16, 17)
    simple = _model(HeadConfig((), (), final_kernel_size=3, upsample_factor=4.0))
    assert simple(_images()).shape == (2, 24, 16, 17)
