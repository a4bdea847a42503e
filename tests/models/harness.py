"""A shared model test harness: every backbone family's tiny heatmap model is checked the same
way (build and call shape, ``get_config`` / ``from_config`` with a ``.weights.h5`` round trip, a
``.keras`` save / load, the MMPose state-dict round trip, XLA against eager, the
``mixed_float16`` policy), as keras-hub's
``run_backbone_test`` does. ``FAMILIES`` is the one table of tiny configurations; family test
files keep only what is specific to their family."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict, weighted_layers


@dataclass(frozen=True)
class FamilyCase:
    """A tiny model of one backbone family: ``build_heatmap_model(model, input_size, K)``."""

    model: ModelConfig
    input_size: tuple[int, int]  # (w, h)
    num_keypoints: int = 5
    heatmap_size: tuple[int, int] | None = None  # (w, h); default input_size / 4
    extra: dict = field(default_factory=dict)


HEAD = HeadConfig((8,), (4,))
NO_DECONV = HeadConfig((), ())
VIPNAS_HEAD = HeadConfig((8,), (3,), type="vipnas", args={"deconv_num_groups": [4]})
MSPN_HEAD = HeadConfig(
    type="mspn",
    args={"num_stages": 2, "num_units": 2, "unit_channels": 8, "use_prm": True,
          "level_indices": [0, 1, 1, 2]},
)  # fmt: skip
TINY_MSPN = {"unit_channels": 8, "num_stages": 2, "num_units": 2, "num_blocks": [1, 1],
             "res_top_channels": 8}  # fmt: skip
TINY_RESNET = {"stem_channels": 8, "base_channels": 8, "num_stages": 2, "strides": (1, 2)}

FAMILIES: dict[str, FamilyCase] = {
    "alexnet": FamilyCase(
        ModelConfig("alexnet", head=HeadConfig((8, 8, 8), (4, 4, 4))),
        (64, 96),
        heatmap_size=(8, 16),  # AlexNet's unpadded pools: 96 x 64 -> 2 x 1 at stride 32
    ),
    # three stages, BN, a dilated last stage without its pool, ceil-mode pools of odd sizes
    "vgg": FamilyCase(
        ModelConfig(
            "vgg11",
            {
                "norm": True,
                "num_stages": 3,
                "dilations": (1, 1, 2),
                "out_indices": (2,),
                "ceil_mode": True,
                "with_last_pool": False,
            },
            head=HEAD,
        ),
        (30, 62),
        heatmap_size=(16, 32),  # 62 x 30 -> 31 x 15 -> 16 x 8 at stride 4, one deconvolution
    ),  # fmt: skip
    "cpm": FamilyCase(
        ModelConfig(
            "cpm",
            {"out_channels": 5, "feat_channels": 8, "middle_channels": 4, "num_stages": 2},
            head=HeadConfig((), (), type="cpm", final_kernel_size=0),
        ),
        (32, 48),
        heatmap_size=(4, 6),
    ),
    "hourglass": FamilyCase(
        ModelConfig(
            "hourglass",
            {
                "downsample_times": 2,
                "stage_channels": (256, 8, 8),
                "stage_blocks": (1, 1, 1),
                "feat_channel": 8,
                "num_stacks": 2,
            },
            head=HeadConfig((), (), type="cpm"),
        ),
        (32, 48),
    ),
    "resnet": FamilyCase(ModelConfig("resnet18", TINY_RESNET, head=HEAD), (32, 64)),  # fmt: skip
    "resnetv1d": FamilyCase(
        ModelConfig("resnetv1d50", TINY_RESNET, head=HEAD), (32, 64)
    ),  # fmt: skip
    "resnext": FamilyCase(
        ModelConfig("resnext50", {**TINY_RESNET, "groups": 2}, head=HEAD), (32, 64)
    ),  # fmt: skip
    "seresnet": FamilyCase(
        ModelConfig("seresnet50", {**TINY_RESNET, "se_ratio": 4}, head=HEAD), (32, 64)
    ),  # fmt: skip
    "resnest": FamilyCase(
        ModelConfig("resnest50", {**TINY_RESNET, "groups": 2}, head=HEAD),
        (32, 64),
    ),  # fmt: skip
    "scnet": FamilyCase(
        ModelConfig("scnet50", TINY_RESNET, head=HEAD), (64, 64), heatmap_size=(16, 16)
    ),  # fmt: skip
    "hrnet": FamilyCase(
        ModelConfig(
            "hrnet",
            {
                "width": 8,
                "num_modules": (1, 1, 1),
                "num_blocks": (1, 1, 1),
                "stage1_blocks": 1,
                "stage1_channels": 8,
                "stem_channels": 8,
            },
            head=NO_DECONV,
        ),
        (32, 64),
    ),
    "litehrnet": FamilyCase(
        ModelConfig(
            "litehrnet",
            {
                # two stages: LITE and NAIVE modules, a new branch, the fuse and the head
                "num_modules": (1, 1),
                "num_branches": (2, 3),
                "num_blocks": (1, 1),
                "module_type": ("LITE", "NAIVE"),
                "with_fuse": (True, True),
                "reduce_ratios": (4, 4),
                "num_channels": ((8, 16), (8, 16, 16)),
                "stem_channels": 8,
                "stem_out_channels": 8,
            },
            head=NO_DECONV,
        ),
        (32, 64),
    ),
    "hrformer": FamilyCase(
        ModelConfig(
            "hrformer",
            {
                "num_channels": (8, 16, 16, 32),
                "num_heads": (1, 2, 2, 4),
                "num_modules": (1, 1, 1),
                "num_blocks": (1, 1, 1),
                "mlp_ratios": (2, 2, 2, 2),
                "stage1_blocks": 1,
                "stage1_channels": 8,
                "stem_channels": 16,
            },
            head=NO_DECONV,
        ),
        (32, 64),
    ),
    "mobilenet_v2": FamilyCase(
        ModelConfig("mobilenet_v2", {"widen_factor": 0.25, "out_indices": (2,)}, head=HEAD),
        (32, 64),
    ),
    "shufflenet_v1": FamilyCase(
        ModelConfig(
            "shufflenet_v1", {"groups": 2, "widen_factor": 0.25, "out_indices": (0,)}, head=HEAD
        ),
        (32, 64),
    ),
    "shufflenet_v2": FamilyCase(
        ModelConfig("shufflenet_v2", {"widen_factor": 0.5, "out_indices": (0,)}, head=HEAD),
        (32, 64),
    ),
    "mspn": FamilyCase(ModelConfig("mspn", TINY_MSPN, head=MSPN_HEAD), (32, 48)),
    "rsn": FamilyCase(
        ModelConfig("rsn", {**TINY_MSPN, "num_steps": 2, "expand_times": 8}, head=MSPN_HEAD),
        (32, 48),
    ),
    "vit": FamilyCase(
        ModelConfig(
            "vit",
            {
                "arch": {
                    "embed_dims": 16,
                    "num_layers": 2,
                    "num_heads": 2,
                    "feedforward_channels": 32,
                },
                "img_size": [64, 32],
                "drop_path_rate": 0.2,
            },
            head=HeadConfig((8, 8), (4, 4)),
        ),
        (32, 64),
    ),
    "swin": FamilyCase(
        ModelConfig(
            "swin",
            {
                "arch": {"embed_dims": 8, "depths": [2, 2], "num_heads": [1, 2]},
                "img_size": [64, 32],
                "out_indices": (1,),
                "drop_path_rate": 0.2,
            },
            head=HeadConfig((8,), (4,)),
        ),
        (32, 64),
    ),
    "pvt": FamilyCase(
        ModelConfig(
            "pvt",
            {
                "embed_dims": 4,
                "num_layers": [1, 1],
                "num_heads": [1, 2],
                "patch_sizes": [4, 2],
                "strides": [4, 2],
                "paddings": [0, 0],
                "sr_ratios": [2, 1],
                "mlp_ratios": [2, 2],
                "out_indices": (1,),
                "img_size": [64, 32],
            },
            head=HeadConfig((8,), (4,)),
        ),
        (32, 64),
    ),
    "pvtv2": FamilyCase(
        ModelConfig(
            "pvt",
            {
                "embed_dims": 4,
                "num_layers": [1, 1],
                "num_heads": [1, 2],
                "patch_sizes": [7, 3],
                "strides": [4, 2],
                "paddings": [3, 1],
                "sr_ratios": [2, 1],
                "mlp_ratios": [2, 2],
                "out_indices": (1,),
                "img_size": [64, 32],
                "use_abs_pos_embed": False,
                "norm_after_stage": True,
                "use_conv_ffn": True,
            },
            head=HeadConfig((8,), (4,)),
        ),
        (32, 64),
    ),
    "cspnext": FamilyCase(
        ModelConfig("cspnext", {"deepen_factor": 0.1, "widen_factor": 0.125}, head=HEAD),
        (32, 64),
        heatmap_size=(2, 4),
    ),
    # two stages (stride 8): grouped convs, an expansion of 2, a GCNet block; a grouped deconv
    "vipnas_resnet": FamilyCase(
        ModelConfig(
            "vipnas_resnet50",
            {
                "stem_channels": 8,
                "stage_widths": (8, 16),
                "expansions": (1, 2),
                "stage_blocks": (1, 1),
                "kernel_sizes": (3, 5),
                "groups": (2, 4),
                "attention": (True, False),
                "num_stages": 2,
                "strides": (1, 2),
                "out_indices": (1,),
            },
            head=VIPNAS_HEAD,
        ),
        (32, 64),
    ),
    # three stages (stride 8): grouped and depthwise convs, SE, ReLU and hard swish
    "vipnas_mbv3": FamilyCase(
        ModelConfig(
            "vipnas_mbv3",
            {
                "stem_channels": 8,
                "stage_widths": (8, 16, 16),
                "expand_ratios": (1, 3, 2),
                "stage_blocks": (1, 2, 1),
                "kernel_sizes": (3, 5, 3),
                "groups": (4, 48, 8),
                "attention": (True, True, False),
                "strides": (1, 2, 2),
                "activations": ("relu", "hard_silu", "hard_silu"),
            },
            head=VIPNAS_HEAD,
        ),
        (32, 64),
    ),
}


def build(case: FamilyCase) -> keras.Model:
    return build_heatmap_model(case.model, case.input_size, case.num_keypoints)


def images(case: FamilyCase, batch: int = 2, seed: int = 0) -> np.ndarray:
    width, height = case.input_size
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, height, width, 3)).astype(np.float32)


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Weights and BN statistics of unit-scale activations (fresh models are near-trivial)."""
    rng = np.random.default_rng(seed)
    for layer in weighted_layers(model):
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "int" in str(variable.dtype):
                continue  # index buffers
            if "moving_variance" in variable.path or "gamma" in variable.path:
                value = rng.uniform(0.5, 1.5, shape)
            elif len(shape) == 4:
                value = rng.normal(0, np.prod(shape[:-1]) ** -0.5, shape)
            else:
                value = rng.normal(0, 0.2, shape)
            variable.assign(value.astype(np.float32))


def heatmap_shape(case: FamilyCase, batch: int = 2) -> tuple[int, ...]:
    width, height = case.heatmap_size or (case.input_size[0] // 4, case.input_size[1] // 4)
    return (batch, height, width, case.num_keypoints)


def run_backbone_test(model: keras.Model, case: FamilyCase, tmp_path: Path) -> None:
    """Every family-independent check on ``model`` (a randomised ``build(case)``)."""
    x = images(case)
    expected = np.asarray(model(x, training=False))
    assert expected.shape == heatmap_shape(case)
    assert expected.dtype == np.float32 and np.isfinite(expected).all()

    # get_config / from_config + .weights.h5: the same architecture, the same outputs
    clone = keras.Model.from_config(model.get_config())
    assert [w.path for w in clone.weights] == [w.path for w in model.weights]
    model.save_weights(tmp_path / "model.weights.h5")
    clone.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(np.asarray(clone(x, training=False)), expected)

    # .keras save / load
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), expected)

    # MMPose state dict -> the clone, its weights first scrambled
    state = model_state_dict(model)
    assert all(key.startswith(("backbone.", "head.")) for key in state)
    randomize(clone, seed=1)
    assign_state_dict(clone, state, strict=True)
    np.testing.assert_array_equal(np.asarray(clone(x, training=False)), expected)

    # XLA equals eager
    compiled = tf.function(lambda t: model(t, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), expected, rtol=1e-4, atol=1e-4)


def run_mixed_precision_test(model: keras.Model, case: FamilyCase) -> None:
    """Under ``mixed_float16`` the model builds, runs, returns float32 heatmaps and, with
    ``model``'s weights, stays close to ``model``'s float32 heatmaps."""
    x = images(case, batch=1)
    expected = np.asarray(model(x, training=False))
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = build(case)
    finally:
        keras.config.set_dtype_policy(policy)
    mixed.set_weights(model.get_weights())
    out = mixed(x, training=False)
    assert out.dtype == "float32"
    assert tuple(out.shape) == heatmap_shape(case, batch=1)
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(np.asarray(out), expected, rtol=0, atol=5e-2 * scale)
