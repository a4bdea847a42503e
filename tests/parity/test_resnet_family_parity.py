"""ResNetV1d, ResNeXt and SEResNet against MMPose 1.3.2 on narrow depth-50 variants (the fast
CI siblings of the full-size presets in ``test_presets_parity.py``): MMPose's state dict in,
the same heatmaps (``1e-4 * max(1, max|ref|)``) and parameter count out."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.models.mmpose_weights import assign_state_dict
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

BUFFERS = (".running_mean", ".running_var", ".num_batches_tracked")
NARROW = {"stem_channels": 8, "base_channels": 8}
HEAD = {"in_channels": 256, "deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides, kpose backbone, kpose args)
CASES = {
    "resnetv1d50": ("coco/td-hm_resnetv1d50_8xb64-210e_coco-256x192.py", NARROW,
                    "resnetv1d50", NARROW),
    "resnext50": ("coco/td-hm_resnext50_8xb64-210e_coco-256x192.py",
                  {**NARROW, "groups": 4, "width_per_group": 4}, "resnext50",
                  {**NARROW, "groups": 4, "width_per_group": 4}),
    "seresnet50": ("coco/td-hm_seresnet50_8xb64-210e_coco-256x192.py",
                   {**NARROW, "se_ratio": 4}, "seresnet50", {**NARROW, "se_ratio": 4}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("input_size", [(64, 96), (72, 104)])  # (w, h); the second: odd maps
def test_narrow_variant_matches_mmpose(name, input_size):
    config, backbone, kpose_backbone, args = CASES[name]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(config, images, backbone=backbone, head=HEAD)
    model = build_heatmap_model(
        ModelConfig(kpose_backbone, args, head=HeadConfig((16, 16), (4, 4))), input_size, 17)
    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(images, training=False))
    assert heatmaps.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
    torch_params = sum(v.size for k, v in state_dict.items() if not k.endswith(BUFFERS))
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == torch_params
