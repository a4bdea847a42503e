"""Heatmap-model inference speed: kpose (Keras, compiled as ``kpose.devices`` chooses: a TF graph
on a CPU, XLA on a GPU) against MMPose's PyTorch forward, measured in the same run on the same
machine. ``benchmarks/compare.py`` measures this and every other path in alternating windows.

    python benchmarks/model_speed.py vitpose-s vitpose-b [--batch 8] [--seconds 20]

For each preset both models get the same random crops at the preset's input size; the MMPose
model is built from the preset's config in the reference virtualenv
(``../shared/tools/mmpose-ref.sh``; ``$KPOSE_MMPOSE_REF`` or
``~/.cache/kpose-mmpose-ref/bin/python``), random weights, eval mode, ``torch.no_grad``, with
as many threads as TensorFlow uses. Prints images/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import tensorflow as tf

import kpose
from kpose.devices import use_xla

REFERENCE = Path(
    os.environ.get(
        "KPOSE_MMPOSE_REF", Path.home() / ".cache" / "kpose-mmpose-ref" / "bin" / "python"
    )
)

_TORCH = """
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import torch, mmpose
from mmengine.config import Config
from mmpose.apis import init_model
config, batch, h, w, seconds, threads = sys.argv[1:7]
torch.set_num_threads(int(threads))
root = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
cfg = Config.fromfile(os.path.join(root, config))
cfg.model.backbone.init_cfg = None
model = init_model(cfg, None, device="cpu").eval()
x = torch.rand(int(batch), 3, int(h), int(w))
with torch.no_grad():
    for _ in range(2):
        model.forward(x, None, mode="tensor")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < float(seconds):
        model.forward(x, None, mode="tensor")
        n += 1
print(json.dumps({"images_per_s": n * int(batch) / (time.perf_counter() - start)}))
"""


def kpose_speed(preset: str, batch: int, seconds: float) -> float:
    model = kpose.build_model(preset)
    _, height, width, _ = model.input_shape
    run = tf.function(lambda x: model(x, training=False), jit_compile=use_xla("model"))
    x = tf.random.uniform((batch, height, width, 3), 0, 255)
    for _ in range(2):
        run(x).numpy()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run(x).numpy()
        n += 1
    return n * batch / (time.perf_counter() - start)


def mmpose_speed(preset: str, batch: int, seconds: float, threads: int) -> float:
    recipe = kpose.presets.get(preset).load_recipe()
    width, height = recipe.codec.input_size
    proc = subprocess.run(
        [
            str(REFERENCE),
            "-c",
            textwrap.dedent(_TORCH),
            recipe.mmpose_config,
            str(batch),
            str(height),
            str(width),
            str(seconds),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"MMPose reference failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["images_per_s"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="+")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if not REFERENCE.is_file():
        print(f"MMPose reference not found at {REFERENCE}", file=sys.stderr)
        return 2
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    print(f"batch {args.batch}, {threads} threads, {args.seconds:.0f} s per model")
    print(f"{'preset':<22}{'kpose img/s':>17}{'MMPose img/s':>15}{'ratio':>8}")
    for preset in args.presets:
        ours = kpose_speed(preset, args.batch, args.seconds)
        theirs = mmpose_speed(preset, args.batch, args.seconds, threads)
        print(f"{preset:<22}{ours:>17.2f}{theirs:>15.2f}{ours / theirs:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
