"""Run code in the MMPose reference virtualenv (``../shared/tools/mmpose-ref.sh``) and get
arrays back.

The reference python is ``$KPOSE_MMPOSE_REF`` or ``~/.cache/kpose-mmpose-ref/bin/python``;
tests that need it use the ``mmpose_ref`` fixture (``tests/parity/conftest.py``) and are skipped
when it is absent. Data goes in and out as ``.npz`` files: the snippet sees ``inputs`` (a dict
of arrays loaded from the input npz) and ``MMPOSE_CONFIGS`` (the folder of MMPose's configs),
and fills ``outputs`` (a dict of arrays or JSON-able values).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path

import numpy as np

DEFAULT_REF = Path.home() / ".cache" / "kpose-mmpose-ref" / "bin" / "python"
# MMPose's top-down heatmap body configs, relative to its configs/ folder (as mmpose_config is).
BODY = "body_2d_keypoint/topdown_heatmap/"

_PRELUDE = """
import json, os, sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
_in, _out = sys.argv[1], sys.argv[2]
inputs = dict(np.load(_in, allow_pickle=False)) if os.path.getsize(_in) else {}
import mmpose
MMPOSE_CONFIGS = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
outputs = {}
"""

_EPILOGUE = """
arrays = {k: np.asarray(v) for k, v in outputs.items() if not isinstance(v, (dict, list, str))}
others = {k: v for k, v in outputs.items() if isinstance(v, (dict, list, str))}
np.savez(_out, __json__=np.array(json.dumps(others)), **arrays)
"""


# PyTorch buffers in MMPose state dicts (BN statistics, Swin's relative-position index).
BUFFER_SUFFIXES = (
    ".running_mean",
    ".running_var",
    ".num_batches_tracked",
    ".relative_position_index",
)


def parameter_count(state_dict: dict[str, np.ndarray]) -> int:
    """The number of PyTorch parameters in an MMPose state dict (its buffers left out)."""
    return int(sum(v.size for k, v in state_dict.items() if not k.endswith(BUFFER_SUFFIXES)))


def assert_heatmap_parity(model, state_dict, expected, images, label: str) -> float:
    """Load MMPose's ``state_dict`` into the kpose ``model`` (strictly); assert its heatmaps on
    ``images`` equal ``expected`` within ``1e-4 * max(1, max|expected|)`` and that it has as
    many trainable parameters as the state dict. Prints and returns the max difference."""
    from kpose.weights.state_dict import assign_state_dict

    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(images, training=False))
    assert heatmaps.shape == expected.shape, (heatmaps.shape, expected.shape)
    torch_params = parameter_count(state_dict)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    scale = max(1.0, float(np.abs(expected).max()))
    diff = float(np.abs(heatmaps - expected).max())
    print(f"\n{label}: max|diff| {diff:.3g} (scale {scale:.3g}), params {params} / {torch_params}")
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
    assert params == torch_params
    return diff


def assert_narrow_presets_match(cases: dict, trees: str | tuple[str, ...], seed: int = 0) -> None:
    """``assert_heatmap_parity`` for narrowed models of presets' configs, all references from
    one reference process: ``cases`` maps a label to ``(preset, (w, h), kpose ModelConfig,
    reference overrides)``; each preset's config must be of one of MMPose's ``trees`` (e.g.
    ``"animal_2d_keypoint"``) and the model has the preset's keypoint count."""
    import kpose
    from kpose.models.build import build_heatmap_model

    rng = np.random.default_rng(seed)
    specs, images = [], {}
    for label, (preset, (width, height), _, overrides) in cases.items():
        images[label] = rng.uniform(0, 255, (2, height, width, 3)).astype(np.float32)
        config = kpose.presets.get(preset).mmpose_config
        trees = (trees,) if isinstance(trees, str) else trees
        assert config.startswith(tuple(f"{t}/topdown_heatmap/" for t in trees)), (label, config)
        specs.append({"config": config, "images": images[label], **overrides})
    references = reference_heatmap_models(specs)
    for (label, (preset, input_size, model_cfg, _)), (state_dict, expected) in zip(
        cases.items(), references, strict=True
    ):
        k = kpose.presets.get(preset).load_recipe().dataset_info.num_keypoints
        assert expected.shape[-1] == k, (label, expected.shape, k)
        model = build_heatmap_model(model_cfg, input_size, k)
        assert_heatmap_parity(model, state_dict, expected, images[label], label)


def reference_python() -> Path | None:
    """The reference interpreter, or None when it is not installed."""
    path = Path(os.environ.get("KPOSE_MMPOSE_REF", DEFAULT_REF))
    return path if path.is_file() else None


def run_reference(code: str, timeout: float = 900, **inputs) -> dict:
    """Execute ``code`` in the reference venv; returns ``outputs`` (arrays + JSON values)."""
    python = reference_python()
    if python is None:
        raise RuntimeError("MMPose reference not installed (see ../shared/tools/mmpose-ref.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        if inputs:
            np.savez(in_path, **{k: np.asarray(v) for k, v in inputs.items()})
        else:
            in_path.write_bytes(b"")
        script = Path(tmp) / "snippet.py"
        script.write_text(_PRELUDE + textwrap.dedent(code) + _EPILOGUE)
        proc = subprocess.run(
            [str(python), str(script), str(in_path), str(out_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"reference snippet failed:\n{proc.stderr[-4000:]}")
        with np.load(out_path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files if k != "__json__"}
            out.update(json.loads(str(data["__json__"])))
        return out


_HEATMAP_MODEL = """
import torch
from mmengine.config import Config
from mmpose.apis import init_model

spec = json.loads(str(inputs["spec"]))
cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, spec["config"]))
backbone = dict(cfg.model.backbone)
# The Human-Art ViTPose-L/H configs name mmcls 1.0's ViT, which MMPose 1.3.2 (mmpretrain, no
# mmcls) cannot build: the same network is mmpretrain's, output_cls_token=False -> out_type.
if backbone["type"] == "mmcls.VisionTransformer":
    backbone["type"] = "mmpretrain.VisionTransformer"
    if not backbone.pop("output_cls_token", True):
        backbone["out_type"] = "featmap"
backbone.update(spec["backbone"])
backbone["init_cfg"] = None
cfg.model.backbone = backbone
cfg.model.head = {**cfg.model.head, **spec["head"]}
if spec["neck"] is not None:
    cfg.model.neck = spec["neck"]
torch.manual_seed(spec["seed"])
model = init_model(cfg, None, device="cpu")

# Random weights with unit-scale activations; BN affine parameters random too.
with torch.no_grad():
    for name, p in model.named_parameters():
        if p.dim() > 1:
            p.normal_(0.0, (p[0].numel()) ** -0.5)
        elif name.endswith(".weight"):
            p.uniform_(0.5, 1.5)
        else:
            p.normal_(0.0, 0.2)

mean = model.data_preprocessor.mean.view(1, 3, 1, 1)
std = model.data_preprocessor.std.view(1, 3, 1, 1)
x = (torch.from_numpy(inputs["images"]).permute(0, 3, 1, 2).float() - mean) / std

# Running statistics: measured on the batch (cumulative average), then perturbed so that they
# differ from batch statistics and from the defaults.
# SyncBN configs build mmengine's _BatchNormXd on CPU: any _BatchNorm counts.
bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
for m in bns:
    m.reset_running_stats()
    m.momentum = None
model.train()
with torch.no_grad():
    model.forward(x, None, mode="tensor")
    for m in bns:
        m.running_mean.add_(0.2 * torch.randn_like(m.running_mean) * m.running_var.sqrt())
        m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.7, 1.3))
model.eval()
with torch.no_grad():
    heatmaps = model.forward(x, None, mode="tensor")
if type(model.head).__name__ == "VisPredictHead":  # (heatmaps, visibility (B, K))
    heatmaps, visibility = heatmaps
    outputs["visibility"] = visibility.numpy()
elif isinstance(heatmaps, (list, tuple)):  # multi-stage heads (CPM, Hourglass): the last stage
    heatmaps = heatmaps[-1]
outputs["heatmaps"] = heatmaps.permute(0, 2, 3, 1).numpy()
for k, v in model.state_dict().items():
    outputs["state_dict." + k] = v.numpy()
# An mmengine-style checkpoint of the model, in torch's zip and legacy formats.
if spec.get("checkpoint"):
    ckpt = {"meta": {"epoch": 1, "mmpose_version": mmpose.__version__},
            "state_dict": model.state_dict()}
    torch.save(ckpt, spec["checkpoint"])
    torch.save(ckpt, os.path.splitext(spec["checkpoint"])[0] + "_legacy.pth",
               _use_new_zipfile_serialization=False)
"""


def reference_heatmap_model(
    config: str,
    images: np.ndarray,
    backbone: dict | None = None,
    head: dict | None = None,
    neck: dict | None = None,
    seed: int = 0,
    timeout: float = 900,
    checkpoint: str | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``reference_model_outputs``' state dict and heatmaps."""
    state_dict, outputs = reference_model_outputs(
        config, images, backbone, head, neck, seed, timeout, checkpoint
    )
    return state_dict, outputs["heatmaps"]


def reference_model_outputs(
    config: str,
    images: np.ndarray,
    backbone: dict | None = None,
    head: dict | None = None,
    neck: dict | None = None,
    seed: int = 0,
    timeout: float = 900,
    checkpoint: str | None = None,
    after: str = "",
    **arrays,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """An MMPose top-down model with random weights and BN statistics, and its outputs:
    ``"heatmaps"`` and, for a ``VisPredictHead``, ``"visibility"`` ``(B, K)``; ``after`` is
    code run next in the same process (it sees ``model``, the normalised images ``x``,
    ``inputs`` with ``arrays`` and fills ``outputs``, returned with the model's).

    ``config`` is relative to MMPose's ``configs/`` (``Preset.mmpose_config``; ``BODY`` +
    ``coco/...`` for a body config);
    ``backbone`` / ``head`` update the config's dicts (e.g. ``{"depth": 18}``), ``neck`` sets
    one. ``images`` are ``(B, H, W, 3)`` RGB in 0..255, normalised with the config's
    ``PoseDataPreprocessor`` statistics. Returns the state dict (numpy, MMPose's keys) and the
    eval-mode outputs (heatmaps ``(B, h, w, K)``).
    With ``checkpoint`` (a path) the model is also saved there by ``torch.save`` as an
    mmengine checkpoint (``meta`` + ``state_dict``), and in torch's legacy format to
    ``<checkpoint stem>_legacy.pth``.
    """
    spec = {
        "config": config,
        "backbone": backbone or {},
        "head": head or {},
        "neck": neck,
        "seed": seed,
        "checkpoint": checkpoint,
    }
    out = run_reference(
        _HEATMAP_MODEL + textwrap.dedent(after),
        timeout=timeout,
        spec=np.array(json.dumps(spec)),
        images=np.asarray(images, np.float32),
        **arrays,
    )
    prefix = "state_dict."
    state_dict = {k[len(prefix) :]: v for k, v in out.items() if k.startswith(prefix)}
    return state_dict, {k: v for k, v in out.items() if not k.startswith(prefix)}


# ``_HEATMAP_MODEL`` once per case in one process (one MMPose import for several models).
_HEATMAP_MODELS = """
_results = {}
for _i, _spec in enumerate(json.loads(str(inputs["specs"]))):
    inputs["spec"], inputs["images"] = np.array(json.dumps(_spec)), inputs[f"images.{_i}"]
    outputs = {}
    exec(_ONE_MODEL)
    _results.update({f"{_i}.{k}": v for k, v in outputs.items()})
outputs = _results
"""


def reference_heatmap_models(
    cases: list[dict], timeout: float = 900
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """``reference_heatmap_model`` for several models in one reference process.

    Each case is a dict of ``reference_heatmap_model``'s arguments (``config``, ``images``,
    optional ``backbone``, ``head``, ``neck``, ``seed``); returns (state dict, heatmaps) per
    case, in order.
    """
    specs, images = [], {}
    for i, case in enumerate(cases):
        specs.append(
            {
                "config": case["config"],
                "backbone": case.get("backbone") or {},
                "head": case.get("head") or {},
                "neck": case.get("neck"),
                "seed": case.get("seed", 0),
            }
        )
        images[f"images.{i}"] = np.asarray(case["images"], np.float32)
    code = f"_ONE_MODEL = {textwrap.dedent(_HEATMAP_MODEL)!r}\n" + _HEATMAP_MODELS
    out = run_reference(code, timeout=timeout, specs=np.array(json.dumps(specs)), **images)
    results = []
    for i in range(len(cases)):
        prefix = f"{i}.state_dict."
        state_dict = {k[len(prefix) :]: v for k, v in out.items() if k.startswith(prefix)}
        results.append((state_dict, out[f"{i}.heatmaps"]))
    return results


# After ``_HEATMAP_MODEL``: the same random model in float64, on the same images.
_FLOAT64_FORWARD = """
model = model.double()
x = (torch.from_numpy(inputs["images"]).permute(0, 3, 1, 2).double() - mean.double()) / std.double()
with torch.no_grad():
    heatmaps64 = model.forward(x, None, mode="tensor")
if isinstance(heatmaps64, (list, tuple)):
    heatmaps64 = heatmaps64[-1]
outputs["heatmaps64"] = heatmaps64.permute(0, 2, 3, 1).numpy()
outputs["inputs64"] = x.permute(0, 2, 3, 1).numpy()
"""


def reference_heatmap_model_float64(
    config: str, images: np.ndarray, seed: int = 0, timeout: float = 900
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``reference_heatmap_model``'s random model run in float64: (state dict, float64 heatmaps,
    the float64 normalised images they came from).

    For presets whose random-weight models are numerically chaotic at full depth (PyTorch's own
    float32 heatmaps differ from its float64 ones by more than the tolerance), parity is proven
    in float64, with ``float64_body`` on the kpose side.
    """
    spec = {"config": config, "backbone": {}, "head": {}, "neck": None, "seed": seed}
    out = run_reference(
        _HEATMAP_MODEL + _FLOAT64_FORWARD,
        timeout=timeout,
        spec=np.array(json.dumps(spec)),
        images=np.asarray(images, np.float32),
    )
    prefix = "state_dict."
    state_dict = {k[len(prefix) :]: v for k, v in out.items() if k.startswith(prefix)}
    return state_dict, out["heatmaps64"], out["inputs64"]


def float64_body(model_cfg, input_size: tuple[int, int], num_keypoints: int):
    """kpose's backbone + head of ``model_cfg`` in float64, on normalised images (the
    ``Normalize`` layer left out), with the heatmap model's layer names."""
    import keras

    from kpose.models.build import build_heatmap_model

    width, height = input_size
    keras.config.set_floatx("float64")
    keras.mixed_precision.set_global_policy("float64")
    try:
        model = build_heatmap_model(model_cfg, (width, height), num_keypoints)
        x = keras.Input((height, width, 3))
        y = model.get_layer("head")(model.get_layer("backbone")(x))
        return keras.Model(x, y[-1] if isinstance(y, list | tuple) else y)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.config.set_floatx("float32")
