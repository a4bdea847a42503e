"""The model-zoo table of ``docs/models.md``: every preset with its parameters, GFLOPs at its
input size, measured MMPose parity, MMPose's published accuracy and a link to MMPose's
checkpoint (``Preset.weights``, what ``kpose.load(name)`` downloads).

``python tools/zoo.py [--parity docs/parity.json] [--out docs/models.md]``. Parity
numbers come from the full-size preset parity run (``KPOSE_PARITY_REPORT=docs/parity.json
pytest -m slow tests/parity/test_presets_parity.py``); GFLOPs are multiply-adds (TensorFlow's
profiler count of the inference graph of one crop, halved: MMPose's/mmcv's convention
counts a multiply-add once), including BN, additions and resampling.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from kpose import presets
from kpose.models.build import build_heatmap_model
from kpose.weights.download import expected_sha256_prefix

DOCS = Path(__file__).resolve().parents[1] / "docs"


def gflops(model, input_size: tuple[int, int]) -> float:
    """Multiply-adds (x 1e9) of ``model`` on one ``input_size = (w, h)`` crop."""
    width, height = input_size
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, height, width, 3], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return profile.total_float_ops / 2e9


def checkpoint_label(url: str) -> str:
    """A short link text for a checkpoint URL: the sha256 prefix its file name carries."""
    name = url.rsplit("/", 1)[-1]
    return expected_sha256_prefix(name) or name


def checkpoint_link(url: str) -> str:
    """The table cell of a checkpoint: a link labelled with its sha256 prefix, or "none"."""
    return f"[{checkpoint_label(url)}]({url})" if url else "none"


def rows(parity: dict, names=None) -> list[str]:
    """The table's header and one row per preset (of ``names``, default all)."""
    lines = [
        "| preset | dataset | input (h x w) | params (M) | GFLOPs | parity: max abs diff "
        "(tolerance) | MMPose published | MMPose checkpoint | MMPose config |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in presets.names() if names is None else names:
        if name == "quickstart":
            continue
        preset = presets.get(name)
        recipe = preset.load_recipe()
        k = recipe.model_info.num_keypoints  # the model's (coco_aic: 19 for COCO's 17)
        width, height = recipe.codec.input_size
        model = build_heatmap_model(recipe.model, (width, height), k)
        params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        measured = parity.get(name)
        if measured is None:
            status = "not measured"
        elif measured["max_abs_diff"] is None:
            status = "**fails** (shape)"
        else:
            tol = 1e-4 * measured["scale"]
            ok = measured["max_abs_diff"] <= tol and measured["params"] == measured["mmpose_params"]
            status = f"{measured['max_abs_diff']:.1e} ({tol:.0e}){'' if ok else ' **fails**'}"
            if measured.get("precision") == "float64":
                status += " float64"
        lines.append(
            f"| {name} | {recipe.data.dataset} | {height}x{width} | {params / 1e6:.2f} | "
            f"{gflops(model, (width, height)):.2f} | {status} | {preset.published} | "
            f"{checkpoint_link(preset.weights)} | `{preset.mmpose_config}` |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/zoo.py", description=__doc__)
    parser.add_argument("--parity", default=str(DOCS / "parity.json"))
    parser.add_argument("--out", default=str(DOCS / "models.md"))
    args = parser.parse_args(argv)
    parity_path = Path(args.parity)
    parity = json.loads(parity_path.read_text()) if parity_path.is_file() else {}
    text = "\n".join(
        [
            "# Model zoo",
            "",
            "Every preset mirrors an MMPose 1.3.2 config of the `topdown_heatmap/` folder of "
            "`configs/body_2d_keypoint/`, `animal_2d_keypoint/`, `wholebody_2d_keypoint/`, "
            "`face_2d_keypoint/` or `hand_2d_keypoint/` (the MMPose config column: its path in "
            "`configs/`); the published column is the metafile's (the README's where no metafile "
            "entry has the config; faces: NME, x100 where the "
            "metafile quotes it so; hands: PCK@0.2 / AUC / EPE; whole body: whole-body AP / AR). "
            "**Parity**: the MMPose model of that "
            "config with random weights and BN statistics, its state dict loaded into "
            "`kpose.build_model(preset)`, max abs heatmap difference on two random crops "
            "(tolerance `1e-4 * max(1, max|ref|)`), parameter counts equal (`pytest -m slow "
            "tests/parity/test_presets_parity.py`). An MMPose checkpoint of the config therefore "
            "gives MMPose's published accuracy. GFLOPs: multiply-adds of one crop. *float64*: the"
            " random-weight model is numerically chaotic at full depth (MMPose's own float32 "
            "heatmaps differ from its float64 ones by more than the tolerance), so both sides ran"
            " in float64. Scales far above 1 come from random weights growing activations through"
            " deep multi-stage models; the fast CI siblings check each family at unit scale.",
            "",
            *rows(parity),
            "",
            '`kpose.load("hrnet-w32")` downloads the preset\'s MMPose checkpoint into '
            "`$KPOSE_HOME/checkpoints` (default `~/.kpose`), checks the sha256 prefix in its file "
            "name, converts it without PyTorch and keeps the converted weights in "
            "`$KPOSE_HOME/converted`, so later loads read neither the network nor the checkpoint. "
            "`KPOSE_WEIGHTS_MIRROR=<base URL>` fetches every weights URL from a mirror (its scheme"
            " and host replaced); with `KPOSE_OFFLINE=1` nothing is downloaded and a missing file "
            "is reported with the path to place it at. `weights=` also takes a local file or an "
            "`http(s)://` / `file://` URL. Recipes name their ImageNet backbone start "
            "(`train.backbone_weights`, the config's `init_cfg=Pretrained`), fetched the same way.",
            "",
        ]
    )
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
