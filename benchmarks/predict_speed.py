"""Images/s and people/s of ``PoseEstimator.predict`` on one-person and many-person frames, for
this checkout and, with ``--against REF``, for another git revision in the same run.

    python benchmarks/predict_speed.py [--presets hrnet-w32 vitpose-s] [--against 7931b21]

Each tree runs in its own worker process (random weights, the sample COCO images, boxes given,
so the detector is not timed); the workers take turns, one timed window at a time, so both see
the same machine state. Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "data" / "samples" / "coco"


def worker(preset: str, people: int, window: float) -> None:
    """Serve timed windows: read a line, predict for ``window`` seconds, print the counts."""
    import cv2
    import numpy as np

    import kpose
    from kpose.inference.estimator import PoseEstimator

    recipe = kpose.load_recipe_for(preset)
    estimator = PoseEstimator(recipe, kpose.build_model(preset))
    files = sorted(SAMPLES.glob("*.jpg"))
    images = [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]
    rng = np.random.default_rng(0)
    boxes = []
    for image in images:
        h, w = image.shape[:2]
        x1, y1 = rng.uniform(0, w / 2, people), rng.uniform(0, h / 2, people)
        boxes.append(np.stack([x1, y1, x1 + w / 3, y1 + h / 2], 1).astype(np.float32))
    for image, box in zip(images, boxes, strict=True):  # warm up every shape used
        estimator.predict(image, box)
    print("ready", kpose.__file__, flush=True)
    for _ in sys.stdin:
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < window:
            estimator.predict(images[done % len(images)], boxes[done % len(images)])
            done += 1
        print(json.dumps({"images": done, "seconds": time.perf_counter() - start}), flush=True)


def _start(tree: Path, preset: str, people: int, window: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", preset, str(people)]
    proc = subprocess.Popen(
        [*args, "--window", str(window)],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker for {tree} ({preset}) died")
        if line.startswith("ready"):
            where = Path(line.split(maxsplit=1)[1].strip())
            if tree.resolve() not in where.resolve().parents:
                raise RuntimeError(f"worker for {tree} imported kpose from {where}")
            return proc


def _window(proc: subprocess.Popen) -> float:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    for line in proc.stdout:
        if line.startswith("{"):
            row = json.loads(line)
            return row["images"] / row["seconds"]
    raise RuntimeError("worker died")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["hrnet-w32", "vitpose-s", "mobilenetv2"])
    parser.add_argument("--people", nargs="+", type=int, default=[1, 6])
    parser.add_argument("--against", help="a git revision to time in the same run")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window", type=float, default=6.0, help="seconds per window")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.window)
        return 0
    trees = {"now": ROOT}
    scratch = None
    if args.against:
        scratch = tempfile.mkdtemp(prefix="kpose-bench-")
        tree = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.against],
            check=True,
            capture_output=True,
        )
        trees[args.against] = tree
    rows = []
    try:
        for preset in args.presets:
            for people in args.people:
                procs = {
                    name: _start(tree, preset, people, args.window) for name, tree in trees.items()
                }
                rates = {name: [] for name in trees}
                for _ in range(args.windows):  # alternate: one window each, in turn
                    for name, proc in procs.items():
                        rates[name].append(_window(proc))
                for proc in procs.values():
                    proc.stdin.close()
                    proc.wait()
                row = {"preset": preset, "people": people}
                for name, values in rates.items():
                    row[f"images_per_s[{name}]"] = round(statistics.median(values), 2)
                    row[f"people_per_s[{name}]"] = round(statistics.median(values) * people, 2)
                if args.against:
                    row["ratio"] = round(
                        row["images_per_s[now]"] / row[f"images_per_s[{args.against}]"], 2
                    )
                rows.append(row)
                print(row, flush=True)
    finally:
        if scratch is not None:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "remove",
                    "--force",
                    str(Path(scratch) / "tree"),
                ],
                capture_output=True,
            )
    print(json.dumps({"predict_speed": rows, "cpu_count": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
