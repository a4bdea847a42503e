"""kpose against MMPose on every path a user runs, measured in one run on this machine.

    python benchmarks/compare.py [--quick] [--only model predict input train evaluate quickstart]

Each workload runs in two worker processes, kpose's (this Python) and MMPose's (the reference
virtualenv of ``../shared/tools/mmpose-ref.sh``: ``$KPOSE_MMPOSE_REF``, else
``~/.cache/kpose-mmpose-ref/bin/python``), with the same thread count and the same inputs;
the driver alternates timed windows between them (``compare_common.serve``), so both see the
same machine state, and reports medians. Workloads (random weights throughout):

- ``sgemm``: peak float32 matrix-product GFLOP/s of each library; the *sgemm bound* of a model
  is the higher peak / its FLOPs per image (2 x multiply-adds, TF's profiler), and each side's
  *share* is its images/s over that bound.
- ``model``: the heatmap model of one preset per family at batch 1, 8 and 32: kpose as
  ``PoseEstimator`` runs it (its device's compile choice, ``kpose.devices``) vs MMPose's
  ``forward(mode="tensor")`` under ``torch.no_grad``.
- ``predict``: ``PoseEstimator.predict`` vs ``inference_topdown`` on decoded sample images with
  their annotated boxes (one-person and many-person images; flip test as the configs say).
- ``input``: the training input path per CPU-second: TFRecords -> augmented crops + heatmap
  targets (the host pipeline and the train step's on-device half) vs MMPose's train pipeline on
  the same JPEGs.
- ``train``: one optimizer step at batch 32 (the step ``kpose.fit`` trains with vs
  ``train_step`` with the config's optimizer wrapper).
- ``evaluate``: flip-test fusion + MSRA decode + COCO AP (rescoring, OKS-NMS) of 10k generated
  instances vs MMPose's ``HeatmapHead`` decode and ``CocoMetric``, with peak memory.
- ``quickstart``: README command 1 (``python -m kpose.fit recipes/quickstart.yaml`` in a fresh
  directory: data generation, training, evaluation): wall time and AP (kpose only).

Prints one table and a final JSON line with every figure and ratio (kpose / MMPose: higher is
better for kpose). ``--quick`` measures fewer presets in shorter windows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from compare_common import (  # noqa: E402
    COCO_FLIP_INDICES,
    EVAL_INPUT_SIZE,
    enlarge_coco,
    eval_ground_truth,
    serve,
)

SAMPLES = ROOT.parent / "shared" / "data" / "samples" / "coco"
REFERENCE = Path(
    os.environ.get(
        "KPOSE_MMPOSE_REF", Path.home() / ".cache" / "kpose-mmpose-ref" / "bin" / "python"
    )
)
# One preset of every backbone family (the smallest COCO 256x192 one where there is a choice).
FAMILIES = [
    "resnet50",
    "resnetv1d50",
    "resnext50",
    "seresnet50",
    "scnet50",
    "resnest50",
    "mspn50",
    "rsn18",
    "cpm",
    "hourglass52",
    "alexnet",
    "vgg16-bn",
    "hrnet-w32",
    "litehrnet-18",
    "mobilenetv2",
    "shufflenetv1",
    "shufflenetv2",
    "vipnas-mbv3",
    "vipnas-res50",
    "cspnext-m",
    "vitpose-s",
    "swin-t",
    "hrformer-s",
    "pvt-s",
]
QUICK_FAMILIES = ["resnet50", "hrnet-w32", "vitpose-s"]
PREDICT_PRESETS = ["resnet50", "hrnet-w32", "vitpose-s"]
TRAIN_PRESETS = ["resnet50", "hrnet-w32", "vitpose-s", "mspn50"]
INPUT_PRESET = "hrnet-w32"  # COCO's standard train pipeline (MSRA heatmaps, 256x192)
ONE_PERSON, MANY_PEOPLE = "000000000785.jpg", "000000197388.jpg"


# ---------------------------------------------------------------------------- kpose side


class KposeModel:
    """The heatmap model as ``PoseEstimator`` compiles it (no flip) on random crops."""

    def __init__(self, spec):
        import tensorflow as tf

        import kpose
        from kpose import devices
        from kpose.inference.predict import make_heatmap_fn

        recipe = kpose.load_recipe_for(spec["preset"])
        model = kpose.build_model(spec["preset"])
        self.fn = make_heatmap_fn(
            model,
            recipe.model_info.flip_indices,
            flip_test=False,
            jit_compile=devices.use_xla("model"),
        )
        self.shape = model.input_shape[1:]
        self.tf = tf
        self.info = {
            "device": devices.describe(),
            "xla": devices.use_xla("model"),
            "gflop_per_image": 2 * _multiply_adds(model) / 1e9,
            "tensorflow": tf.__version__,
        }

    def prepare(self, config):
        self.x = self.tf.random.uniform((config["batch"], *self.shape), 0, 255)

    def step(self, config):
        _ = self.fn(self.x).numpy()
        return config["batch"]


class KposeOnnx:
    """The heatmap model exported by ``kpose.export --format onnx`` (tf2onnx) on ONNX Runtime's
    CPU provider with the same thread count: the CPU deployment path of ``docs/serving.md``."""

    def __init__(self, spec):
        import numpy as np
        import onnxruntime as ort

        import kpose
        from kpose.inference.estimator import PoseEstimator
        from kpose.inference.serving import export_onnx

        recipe = kpose.load_recipe_for(spec["preset"])
        estimator = PoseEstimator(recipe, kpose.build_model(spec["preset"]), detector=None)
        path = export_onnx(estimator, Path(spec["work_dir"]) / f"{spec['preset']}.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = spec["threads"]
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.shape = tuple(estimator.heatmap_model.input_shape[1:])
        self.np = np
        self.info = {"onnxruntime": ort.__version__}

    def prepare(self, config):
        rng = self.np.random.default_rng(0)
        self.x = rng.uniform(0, 255, (config["batch"], *self.shape)).astype(self.np.float32)

    def step(self, config):
        self.session.run(None, {self.input: self.x})
        return config["batch"]


def _multiply_adds(model) -> float:
    import tensorflow as tf

    _, height, width, _ = model.input_shape
    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, height, width, 3], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / 2


class KposePredict:
    """``PoseEstimator.predict`` on decoded RGB images with their boxes."""

    def __init__(self, spec):
        import cv2
        import numpy as np

        import kpose
        from kpose.inference.estimator import PoseEstimator

        recipe = kpose.load_recipe_for(spec["preset"])
        self.estimator = PoseEstimator(recipe, kpose.build_model(spec["preset"]), detector=None)
        self.images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in spec["images"]]
        self.boxes = [np.asarray(b, np.float32) for b in spec["boxes"]]
        self.info = {"flip_test": recipe.eval.flip_test}
        self.order = itertools.cycle(range(len(self.images)))

    def step(self, config):
        i = next(self.order)
        self.estimator.predict(self.images[i], self.boxes[i])
        return 1


def _bench_recipe(preset: str, records: str, batch: int):
    import kpose
    from kpose.recipe import replace

    recipe = kpose.load_recipe_for(preset)
    return replace(
        recipe,
        [
            f"data.root={records}",
            "data.train_split=train",
            "data.val_split=train",
            f"train.batch_size={batch}",
        ],
    )


class KposeInput:
    """The training input path: the host pipeline (record read, JPEG decode, sampled
    augmentation, coarse crop, batching) and the train step's on-device half (exact warp,
    heatmap targets), as ``kpose.fit`` runs them."""

    def __init__(self, spec):
        import tensorflow as tf

        from kpose import devices
        from kpose.codecs import make_training_codecs
        from kpose.data import augment
        from kpose.training.trainer import recipe_train_dataset

        recipe = _bench_recipe(spec["preset"], spec["records"], 32)
        self.recipe, self.train_dataset, self.tf = recipe, recipe_train_dataset, tf
        self.batches_per_step = 8
        codecs = make_training_codecs(recipe)
        input_size = tuple(recipe.codec.input_size)
        self.device_half = tf.function(
            lambda batch: augment.make_training_batch(
                batch, codecs, input_size, recipe.data.pixel_transforms
            ),
            jit_compile=devices.use_xla("augment"),
        )
        self.epoch = 0
        self.info = {"xla_augment": devices.use_xla("augment")}

    def step(self, config):
        recipe = self.recipe
        ds = self.train_dataset(recipe, recipe.model_info, recipe.train.batch_size, self.epoch)
        self.epoch += 1
        n = 0
        for batch in ds.take(self.batches_per_step):
            images, heatmaps, _ = self.device_half(batch)
            _ = float(self.tf.reduce_sum(images[:, 0, 0, 0])), heatmaps
            n += int(images.shape[0])
        return n


class KposeTrain:
    """One optimizer step of ``kpose.fit``'s train step (on-device warp and targets, forward,
    loss, backward, the recipe's optimizer) on a cached host batch."""

    def __init__(self, spec):
        import tensorflow as tf

        from kpose import devices
        from kpose.training.trainer import build_run, recipe_train_dataset, recipe_train_step

        recipe = _bench_recipe(spec["preset"], spec["records"], spec["batch"])
        strategy = tf.distribute.get_strategy()  # the default: one replica, as fit on one CPU
        self.run = build_run(recipe, recipe.model_info, strategy, Path(spec["work_dir"]))
        self.step_fn = recipe_train_step(self.run, strategy)
        ds = recipe_train_dataset(recipe, recipe.model_info, recipe.train.batch_size, 0)
        self.iterator = iter(ds.take(1).cache().repeat())
        self.batch = spec["batch"]
        self.info = {"optimizer": recipe.train.optimizer, "device": devices.describe()}

    def step(self, config):
        float(self.step_fn(self.iterator))
        return self.batch


class KposeEvaluate:
    """Flip-test fusion + the codec's decode (as ``PoseEstimator`` compiles it), the
    back-projection to image pixels and ``coco_evaluate`` (MMPose's CocoMetric)."""

    def __init__(self, spec):
        import numpy as np
        import tensorflow as tf

        from kpose import devices
        from kpose.codecs import MSRAHeatmap, flip_heatmaps, flip_test_average
        from kpose.evaluation.coco import coco_evaluate
        from kpose.inference.predict import to_image_coords

        # MMPose's layout (2, U, K, h, w) -> kpose's NHWC, as tensors: in an evaluation the
        # heatmaps come out of the model as tensors (MMPose's side: torch.from_numpy, no copy)
        heatmaps = np.load(spec["heatmaps"], mmap_mode="r")
        self.heatmaps = [tf.constant(np.transpose(heatmaps[i], (0, 2, 3, 1))) for i in range(2)]
        self.unique = int(heatmaps.shape[1])
        del heatmaps
        self.centers = np.load(spec["centers"])
        self.scales = np.load(spec["scales"])
        with open(spec["ann_file"]) as f:
            self.gt = json.load(f)
        self.image_ids = np.array([a["image_id"] for a in self.gt["annotations"]], np.int64)
        codec = MSRAHeatmap(EVAL_INPUT_SIZE, self.heatmaps[0].shape[1:3][::-1], sigma=2.0)

        def fuse_and_decode(original, mirrored):
            flipped = flip_heatmaps(mirrored, COCO_FLIP_INDICES, shift_heatmap=True)
            return codec.decode(flip_test_average(original, flipped))

        self.decode = tf.function(fuse_and_decode, jit_compile=devices.use_xla("decode"))
        self.coco_evaluate, self.to_image_coords, self.np = coco_evaluate, to_image_coords, np
        self.info = {"instances": len(self.image_ids), "xla_decode": devices.use_xla("decode")}
        self.last = {}

    def step(self, config):
        np = self.np
        n = len(self.image_ids)
        keypoints, scores = [], []
        for start in range(0, n, self.unique):  # instance i has heatmap pair i % unique
            size = min(n - start, self.unique)
            kp, sc = self.decode(self.heatmaps[0][:size], self.heatmaps[1][:size])
            keypoints.append(np.asarray(kp, np.float64))
            scores.append(np.asarray(sc))
        predictions = {
            "image_id": self.image_ids,
            "keypoints": self.to_image_coords(
                np.concatenate(keypoints), self.centers, self.scales, EVAL_INPUT_SIZE
            ),
            "keypoint_scores": np.concatenate(scores),
            "area": np.prod(self.scales, axis=-1),
        }
        self.last = self.coco_evaluate(self.gt, predictions)
        return n


class KposeSgemm:
    def __init__(self, spec):
        import tensorflow as tf

        n = spec.get("n", 2048)
        a, b = tf.random.uniform((n, n)), tf.random.uniform((n, n))
        self.fn = tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)[0, 0]))
        self.flop = 2 * n**3 / 1e9
        from kpose import devices

        self.info = {"device": devices.describe()}

    def step(self, config):
        self.fn().numpy()
        return self.flop


KPOSE_WORKLOADS = {
    "model": KposeModel,
    "onnx": KposeOnnx,
    "predict": KposePredict,
    "input": KposeInput,
    "train": KposeTrain,
    "evaluate": KposeEvaluate,
    "sgemm": KposeSgemm,
}


def kpose_worker(spec: dict) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    t0 = time.perf_counter()
    workload = KPOSE_WORKLOADS[spec["kind"]](spec)
    workload.info = {**workload.info, "setup_s": round(time.perf_counter() - t0, 2)}
    serve(workload)


# ---------------------------------------------------------------------------- the driver


class Worker:
    """One side's worker process; its stderr goes to a file (read when it dies), so a chatty
    library can never fill a pipe nobody reads."""

    def __init__(self, side: str, spec: dict):
        if side == "kpose":
            args = [sys.executable, str(Path(__file__).resolve()), "--serve", json.dumps(spec)]
        else:
            args = [str(REFERENCE), str(HERE / "compare_mmpose.py"), json.dumps(spec)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(HERE)}
        self.side, self.spec = side, spec
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            args,
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.info = json.loads(self._line("ready ")[len("ready ") :])

    def _line(self, prefix: str) -> str:
        """The next stdout line starting with ``prefix`` (other output is skipped)."""
        for line in self.proc.stdout:
            if line.startswith(prefix):
                return line
        self.stderr.seek(0)
        err = self.stderr.read()[-3000:]
        raise RuntimeError(f"{self.side} worker {self.spec['kind']} died:\n{err}")

    def window(self, config: dict, seconds: float) -> dict:
        """One timed window of ``config``: the worker's counts (``compare_common.serve``)."""
        self.proc.stdin.write(json.dumps({"config": config, "seconds": seconds}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line("{"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        self.stderr.close()


def measure(kind: str, specs: dict, configs: list[dict], windows: int, seconds: float) -> dict:
    """Start one worker per side (one after the other: setups do not overlap), alternate
    ``windows`` timed windows per config between them (the side that goes first alternates)
    and return, per config and side, the medians of units/s (wall) and units per CPU-second
    and the peak memory."""
    workers = {}
    try:
        for side, spec in specs.items():
            workers[side] = Worker(side, {"kind": kind, **spec})  # spec may name its own kind
        results = []
        for config in configs:
            samples = {side: [] for side in workers}
            for w in range(windows):
                order = list(workers) if w % 2 == 0 else list(workers)[::-1]
                for side in order:
                    samples[side].append(workers[side].window(config, seconds))
            row = {"config": config}
            for side, rows in samples.items():
                row[side] = {
                    "per_s": statistics.median(r["units"] / r["wall"] for r in rows),
                    "per_cpu_s": statistics.median(r["units"] / max(r["cpu"], 1e-9) for r in rows),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                    "last": rows[-1].get("last"),
                }
            results.append(row)
        return {side: w.info for side, w in workers.items()} | {"results": results}
    finally:
        for w in workers.values():
            try:
                w.close()
            except Exception:
                w.proc.kill()


def both(spec_kpose: dict, spec_mmpose: dict, threads: int) -> dict:
    return {
        "kpose": {**spec_kpose, "threads": threads},
        "mmpose": {**spec_mmpose, "threads": threads},
    }


def mmpose_config(preset: str) -> tuple[str, int, int]:
    """The preset's MMPose config and input (h, w), read without importing TensorFlow."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, kpose; r = kpose.load_recipe_for(sys.argv[1]); "
            "print(json.dumps([r.mmpose_config, *r.codec.input_size]))",
            preset,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    config, width, height = json.loads(out.stdout.strip().splitlines()[-1])
    return config, height, width


def prepare_inputs(scratch: Path, quick: bool) -> dict:
    """The shared inputs: the sample COCO images repeated (JSON + kpose's converted records),
    the evaluation ground truth and heatmaps, the predict images and their boxes."""
    import numpy as np

    coco = enlarge_coco(str(SAMPLES / "test_coco.json"), copies=30)
    ann = scratch / "coco_train.json"
    ann.write_text(json.dumps(coco))
    records = scratch / "records"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "kpose.convert",
            "coco",
            "--annotations",
            str(ann),
            "--images",
            str(SAMPLES),
            "--out",
            str(records),
            "--split",
            "train",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    gt, heatmaps, centers, scales = eval_ground_truth(2000 if quick else 10000)
    paths = {"ann_file": scratch / "eval_gt.json", "heatmaps": scratch / "heatmaps.npy"}
    paths["ann_file"].write_text(json.dumps(gt))
    np.save(paths["heatmaps"], heatmaps)
    np.save(scratch / "centers.npy", centers)
    np.save(scratch / "scales.npy", scales)
    original = json.loads((SAMPLES / "test_coco.json").read_text())
    predict = {}
    for name in (ONE_PERSON, MANY_PEOPLE):
        image = next(i for i in original["images"] if i["file_name"] == name)
        boxes = [
            [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            for a in original["annotations"]
            if a["image_id"] == image["id"] and a["num_keypoints"] > 0
        ]
        predict[name] = {"images": [str(SAMPLES / name)], "boxes": [boxes]}
    return {
        "train_ann": str(ann),
        "records": str(records),
        "eval": {
            "ann_file": str(paths["ann_file"]),
            "heatmaps": str(paths["heatmaps"]),
            "centers": str(scratch / "centers.npy"),
            "scales": str(scratch / "scales.npy"),
        },
        "predict": predict,
    }


def run_quickstart(scratch: Path) -> dict:
    """README command 1 in a fresh directory: wall time and the AP it prints."""
    work = scratch / "quickstart"
    work.mkdir()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "kpose.fit", str(ROOT / "recipes" / "quickstart.yaml")],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"quickstart failed:\n{proc.stderr[-3000:]}")
    found = re.findall(r"\bAP\b[^0-9]*([01]\.\d+)", proc.stdout + proc.stderr)
    return {"wall_s": round(wall, 1), "AP": float(found[-1]) if found else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer presets, shorter windows")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["model", "predict", "input", "train", "evaluate", "quickstart"],
        help="run only these workloads",
    )
    parser.add_argument(
        "--onnx",
        nargs="*",
        metavar="PRESET",
        help="also time these presets' ONNX export on ONNX Runtime (default: resnet50 "
        "hrnet-w32 vitpose-s) against MMPose",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # a kpose worker
    args = parser.parse_args(argv)
    if args.serve:
        kpose_worker(json.loads(args.serve))
        return 0
    if not REFERENCE.is_file():
        print(f"MMPose reference not found at {REFERENCE} (see the module docstring)")
        return 2
    wanted = set(args.only or ["model", "predict", "input", "train", "evaluate", "quickstart"])
    if args.quick:
        wanted.discard("quickstart")
    windows, seconds = (2, 1.0) if args.quick else (3, 2.5)
    threads, t_start = args.threads, time.perf_counter()
    report: dict = {"quick": args.quick, "threads": threads, "workloads": {}}
    with tempfile.TemporaryDirectory(prefix="kpose-compare-") as tmp:
        scratch = Path(tmp)
        inputs = prepare_inputs(scratch, args.quick)
        sg = measure("sgemm", both({}, {}, threads), [{}], windows, seconds)
        peak = {s: sg["results"][0][s]["per_s"] for s in ("kpose", "mmpose")}
        report["device"] = sg["kpose"].get("device", "cpu")
        report["sgemm_gflop_s"] = peak
        bound_peak = max(peak.values())
        print(f"device: {report['device']}, {threads} threads; sgemm GFLOP/s: {_fmt(peak)}")
        rows = []

        def add(workload, name, k, m, unit, extra=None):
            row = {"workload": workload, "name": name, "kpose": k, "mmpose": m, "unit": unit}
            row["ratio"] = k / m if m else None
            row.update(extra or {})
            rows.append(row)
            print(_row_line(row), flush=True)

        if "model" in wanted:
            batches = [1, 8] if args.quick else [1, 8, 32]
            for preset in QUICK_FAMILIES if args.quick else FAMILIES:
                config, height, width = mmpose_config(preset)
                res = measure(
                    "model",
                    both(
                        {"preset": preset},
                        {"config": config, "height": height, "width": width},
                        threads,
                    ),
                    [{"batch": b} for b in batches],
                    windows if not args.quick else 2,
                    seconds,
                )
                gflop = res["kpose"]["gflop_per_image"]
                bound = bound_peak / gflop
                for r in res["results"]:
                    k, m = r["kpose"]["per_s"], r["mmpose"]["per_s"]
                    add(
                        "model",
                        f"{preset} b{r['config']['batch']}",
                        k,
                        m,
                        "img/s",
                        {"sgemm_bound": bound, "share": [k / bound, m / bound]},
                    )
        if args.onnx is not None:
            batches = [1, 8]
            for preset in args.onnx or ["resnet50", "hrnet-w32", "vitpose-s"]:
                config, height, width = mmpose_config(preset)
                specs = both(
                    {"preset": preset, "work_dir": str(scratch)},
                    {"config": config, "height": height, "width": width},
                    threads,
                )
                specs["mmpose"]["kind"] = "model"
                res = measure("onnx", specs, [{"batch": b} for b in batches], windows, seconds)
                for r in res["results"]:
                    add(
                        "onnx",
                        f"{preset} b{r['config']['batch']}",
                        r["kpose"]["per_s"],
                        r["mmpose"]["per_s"],
                        "img/s",
                    )
        if "predict" in wanted:
            for preset in PREDICT_PRESETS[1:2] if args.quick else PREDICT_PRESETS:
                config, _, _ = mmpose_config(preset)
                for data in inputs["predict"].values():
                    res = measure(
                        "predict",
                        both({"preset": preset, **data}, {"config": config, **data}, threads),
                        [{}],
                        windows,
                        seconds,
                    )
                    r, people = res["results"][0], len(data["boxes"][0])
                    k, m = r["kpose"]["per_s"], r["mmpose"]["per_s"]
                    add(
                        "predict",
                        f"{preset} {people} people",
                        k,
                        m,
                        "img/s",
                        {"people_per_s": [k * people, m * people]},
                    )
        if "input" in wanted:
            config, _, _ = mmpose_config(INPUT_PRESET)
            res = measure(
                "input",
                both(
                    {"preset": INPUT_PRESET, "records": inputs["records"]},
                    {"config": config, "ann_file": inputs["train_ann"], "image_dir": str(SAMPLES)},
                    threads,
                ),
                [{}],
                windows,
                seconds * 2,
            )
            r = res["results"][0]
            add(
                "input",
                f"{INPUT_PRESET} pipeline",
                r["kpose"]["per_cpu_s"],
                r["mmpose"]["per_cpu_s"],
                "samples/CPU-s",
                {"samples_per_s": [r["kpose"]["per_s"], r["mmpose"]["per_s"]]},
            )
        if "train" in wanted:
            for preset in TRAIN_PRESETS[:1] if args.quick else TRAIN_PRESETS:
                config, _, _ = mmpose_config(preset)
                res = measure(
                    "train",
                    both(
                        {
                            "preset": preset,
                            "records": inputs["records"],
                            "batch": 32,
                            "work_dir": str(scratch / f"train-{preset}"),
                        },
                        {
                            "config": config,
                            "ann_file": inputs["train_ann"],
                            "image_dir": str(SAMPLES),
                            "batch": 32,
                        },
                        threads,
                    ),
                    [{}],
                    2,
                    seconds,
                )
                r = res["results"][0]
                k, m = r["kpose"]["per_s"], r["mmpose"]["per_s"]
                add("train", f"{preset} b32", k, m, "samples/s")
        if "evaluate" in wanted:
            res = measure("evaluate", both(inputs["eval"], inputs["eval"], threads), [{}], 2, 0.0)
            r = res["results"][0]
            add(
                "evaluate",
                f"decode+AP {res['kpose']['instances']} instances",
                r["kpose"]["per_s"],
                r["mmpose"]["per_s"],
                "inst/s",
                {
                    "peak_rss_mb": [r["kpose"]["peak_rss_mb"], r["mmpose"]["peak_rss_mb"]],
                    "AP": [_ap(r["kpose"]["last"]), _ap(r["mmpose"]["last"])],
                },
            )
        if "quickstart" in wanted:
            q = run_quickstart(scratch)
            report["quickstart"] = q
            print(f"quickstart: {q['wall_s']:.0f} s wall, AP {q['AP']}", flush=True)
    report["workloads"] = rows
    report["wall_s"] = round(time.perf_counter() - t_start, 1)
    print()
    print(table(rows, report))
    print(json.dumps(report, default=str))
    return 0


def _ap(metrics) -> float | None:
    if not metrics:
        return None
    return float(metrics.get("AP", metrics.get("coco/AP", float("nan"))))


def _fmt(values: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in values.items())


def _row_line(row: dict) -> str:
    ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
    return (
        f"{row['workload']:<9} {row['name']:<30} {row['kpose']:>10.2f} {row['mmpose']:>10.2f} "
        f"{row['unit']:<14} {ratio:>6}"
    )


def table(rows: list[dict], report: dict) -> str:
    lines = [
        f"device {report['device']}, {report['threads']} threads, "
        f"sgemm GFLOP/s {_fmt(report['sgemm_gflop_s'])}",
        f"{'workload':<9} {'name':<30} {'kpose':>10} {'MMPose':>10} {'unit':<14} {'ratio':>6}"
        "  extra",
    ]
    for row in rows:
        extra = ""
        if "share" in row:
            extra = (
                f"  bound {row['sgemm_bound']:.1f} img/s, share "
                f"{row['share'][0]:.0%} / {row['share'][1]:.0%}"
            )
        elif "people_per_s" in row:
            extra = f"  people/s {row['people_per_s'][0]:.1f} / {row['people_per_s'][1]:.1f}"
        elif "AP" in row:
            extra = f"  AP {row['AP'][0]} / {row['AP'][1]}, peak MB {row['peak_rss_mb']}"
        elif "samples_per_s" in row:
            extra = f"  samples/s {row['samples_per_s'][0]:.1f} / {row['samples_per_s'][1]:.1f}"
        lines.append(_row_line(row) + extra)
    if "quickstart" in report:
        q = report["quickstart"]
        lines.append(f"quickstart: {q['wall_s']:.0f} s wall, val AP {q['AP']}")
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    if ratios:
        lines.append(f"lowest ratio {min(ratios):.2f}; total {report.get('wall_s', 0):.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
