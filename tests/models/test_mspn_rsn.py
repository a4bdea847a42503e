"""MSPN / RSN backbones and MSPNHead in Keras: output structure and shapes, MMPose's parameter
counts, the ``align_corners=True`` resize, argument checks, a ``.keras`` round trip, XLA."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.mspn import mspn
from kpose.models.backbones.rsn import rsn
from kpose.models.build import build_heatmap_model
from kpose.models.heads.mspn import mspn_head
from kpose.recipe import HeadConfig, ModelConfig

TINY = {"unit_channels": 8, "num_stages": 2, "num_units": 2, "num_blocks": [1, 1],
        "res_top_channels": 8}  # fmt: skip
TINY_HEAD = HeadConfig(
    type="mspn",
    args={"num_stages": 2, "num_units": 2, "unit_channels": 8, "use_prm": True,
          "level_indices": [0, 1, 1, 2]},
)  # fmt: skip


def _tiny_rsn_model(**kwargs):
    args = {**TINY, "num_steps": 2, "expand_times": 8}
    return build_heatmap_model(ModelConfig("rsn", args, head=TINY_HEAD), (40, 56), 5, **kwargs)


def _images(height=56, width=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (2, height, width, 3)).astype(np.float32)


def test_outputs_are_stage_major_coarse_to_fine():
    backbone = mspn(**{**TINY, "num_stages": 2, "num_units": 3, "num_blocks": [1, 1, 1]})
    shapes = [tuple(o.shape[1:]) for o in backbone(np.zeros((1, 104, 72, 3), "float32"))]
    # stride 4 stem: 26x18, then 13x9 and 7x5 (PyTorch's strided convs round up)
    assert shapes == [(7, 5, 8), (13, 9, 8), (26, 18, 8)] * 2


def test_parameter_counts_equal_mmpose():
    # MMPose 1.3.2: MSPN(num_stages=1, num_blocks=[3, 4, 6, 3]) + MSPNHead(num_stages=1), and
    # RSN likewise, counted with sum(p.numel()) in the reference venv.
    head = HeadConfig(type="mspn", args={"num_stages": 1, "num_units": 4})
    for backbone, params in (("mspn", 25_112_264), ("rsn", 19_328_584)):
        cfg = ModelConfig(backbone, {"num_stages": 1, "num_blocks": [3, 4, 6, 3]}, head=head)
        model = build_heatmap_model(cfg, (192, 256), 17)
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == params


def test_head_checks_its_arguments():
    with pytest.raises(ModelError, match="needs 8"):
        mspn_head([256] * 4, 17, (48, 64), num_stages=2, num_units=4)
    with pytest.raises(ModelError, match="unit_channels"):
        mspn_head([128] * 4, 17, (48, 64), num_stages=1)
    with pytest.raises(ModelError, match="level_indices"):
        mspn_head([256] * 4, 17, (48, 64), num_stages=1, level_indices=[0, 1])
    with pytest.raises(ModelError, match="num_blocks"):
        rsn(num_units=4, num_blocks=[1, 1])


def test_all_stages_are_stage_major_with_the_prediction_last():
    model = _tiny_rsn_model(all_stages=True)  # every stage x unit, the prediction last
    images = _images()
    expected = [np.asarray(y) for y in model(images, training=False)]
    assert [y.shape for y in expected] == [(2, 14, 10, 5)] * 4
    assert model.output_names[-1] == "heatmaps"
