"""``python -m kpose.fit`` end to end on a tiny recipe: data generation, training, validation,
checkpoints, and resuming after SIGKILL."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpose.fit import main

QUICKSTART = Path(__file__).parents[1] / "recipes" / "quickstart.yaml"


def tiny(tmp_path: Path, **extra) -> list[str]:
    overrides = {
        "data.root": str(tmp_path / "data"),
        "data.synthetic.train_images": 12,
        "data.synthetic.val_images": 4,
        "data.synthetic.shards": 2,
        "data.shuffle_buffer": 16,
        "train.work_dir": str(tmp_path / "work"),
        "train.epochs": 1,
        "train.steps_per_epoch": 3,
        "train.batch_size": 4,
        "train.val_interval": 1,
        "train.warmup_iters": 2,
        "train.jit_compile": False,
        "eval.batch_size": 8,
        **extra,
    }
    return [str(QUICKSTART), *(f"{k}={v}" for k, v in overrides.items()), "--no-progress"]


def test_fit_end_to_end(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="kpose")
    assert main(tiny(tmp_path)) == 0
    out = capsys.readouterr().out
    assert re.search(r"synthetic/AP: \d\.\d{4}", out), out
    work = tmp_path / "work"
    for name in (
        "best.weights.h5",
        "last.weights.h5",
        "history.jsonl",
        "recipe.json",
        "curves.png",
    ):
        assert (work / name).is_file(), name
    assert list((work / "logs").iterdir())
    assert (work / "checkpoints" / "checkpoint").is_file()
    # running again with more epochs continues from epoch 2
    caplog.clear()
    assert main(tiny(tmp_path, **{"train.epochs": 2})) == 0
    assert "resumed from" in caplog.text and "epoch 2, step 0" in caplog.text
    assert len((work / "history.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epoch=3", "unknown key 'train.epoch'"),
        ("train.optimizer=sgd", "key 'train.optimizer': expected one of 'adam', 'adamw'"),
        ("codec.type=dark", "key 'codec.type': expected one of 'msra', 'udp', 'megvii'"),
        ("model.head.type=simcc", "key 'model.head.type': expected one of 'heatmap'"),
        ("data.val_boxes=dets", "key 'data.val_boxes': expected one of 'gt', 'detections'"),
        ("eval.metric=AP", "key 'eval.metric': expected one of 'coco'"),
        ("eval.score_mode=oks", "key 'eval.score_mode': expected one of 'bbox_keypoint'"),
        ("data.dataset=cocoa", "key 'data.dataset': expected one of"),
        ("train.batch_size=-4", "key 'train.batch_size': expected >= 1, got -4"),
        ("train.epochs=0", "key 'train.epochs': expected >= 1, got 0"),
        ("train.lr=-0.001", "key 'train.lr': expected > 0"),
        ("codec.sigma=0", "key 'codec.sigma': expected > 0"),
        ("data.flip_prob=1.5", "key 'data.flip_prob': expected >= 0 and <= 1"),
        ("codec.blur_kernel_size=4", "key 'codec.blur_kernel_size': expected an odd"),
        ("codec.kernel_sizes=[11,9]", "key 'codec.kernel_sizes': multi-level targets need"),
        ("train.layer_decay_rate=0.75", "key 'train.layer_decay_num_layers'"),
        ("train.cosine_epochs=[5,2]", "key 'train.cosine_epochs': expected [begin, end]"),
        ("eval.metric=mpii", "key 'data.val_boxes': expected 'gt' for the PCK metric"),
    ],
)
def test_bad_recipe_value_is_a_one_line_error(override, message, capsys):
    """Each bad value ends in exit code 2 and one line naming the file and the key (no
    traceback), before any data is generated or model built."""
    extra = ["data.val_boxes=detections"] if override.startswith("eval.metric=mpii") else []
    assert main([str(QUICKSTART), override, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {QUICKSTART}: ") and message in err, err


def test_resume_after_sigkill(tmp_path):
    args = tiny(
        tmp_path,
        **{
            "train.steps_per_epoch": 400,
            "train.checkpoint_interval": 5,
            "train.epochs": 1,
            "train.log_every": 1,
        },
    )
    cmd = [sys.executable, "-m", "kpose.fit", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
    )
    ckpt_dir = tmp_path / "work" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not list(ckpt_dir.glob("ckpt-*.index")):
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(ckpt_dir.glob("ckpt-*.index")), "no mid-epoch checkpoint was written"
    resumed = subprocess.run(
        [*cmd, "train.steps_per_epoch=12"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    match = re.search(r"resumed from \S+: epoch 1, step (\d+)", resumed.stderr)
    assert match and int(match.group(1)) >= 5, resumed.stderr[-3000:]


@pytest.mark.slow  # the codecs' training targets have their own tests (tests/codecs, parity)
def test_fit_with_udp_and_megvii_codecs(tmp_path, capsys):
    for codec in ("udp", "megvii"):
        extra = {
            "codec.type": codec,
            "train.steps_per_epoch": 2,
            "train.work_dir": str(tmp_path / codec),
            "codec.blur_kernel_size": 11,
        }
        assert main(tiny(tmp_path, **extra)) == 0
        assert re.search(r"synthetic/AP: \d\.\d{4}", capsys.readouterr().out)


def test_load_from_starts_from_trained_weights(tmp_path, capsys, caplog):
    """``train.load_from`` (MMPose's load_from) initialises a new run, it does not resume."""
    import kpose

    caplog.set_level(logging.INFO, logger="kpose")
    trained = tmp_path / "trained.weights.h5"  # weights of this model, as a finished run leaves
    kpose.build_model(str(QUICKSTART)).save_weights(str(trained))
    extra = {"train.work_dir": str(tmp_path / "finetune"), "train.load_from": str(trained)}
    assert main(tiny(tmp_path, **extra)) == 0
    assert f"initialised from {trained}" in caplog.text
    assert "resumed from" not in caplog.text.split("initialised")[1]
    extra["train.load_from"] = str(tmp_path / "missing.pth")
    extra["train.work_dir"] = str(tmp_path / "again")
    assert main(tiny(tmp_path, **extra)) == 2
    assert "missing.pth: file not found" in capsys.readouterr().err


def test_fit_in_mixed_precision(tmp_path, capsys):
    """``train.mixed_precision`` (the fp16 presets): float16 compute, float32 heatmaps, a
    dynamically scaled loss starting at torch's GradScaler 2**16; the process's dtype policy is
    left as it was."""
    import keras

    from kpose.recipe import load_recipe
    from kpose.training.trainer import build_run, default_strategy

    args = tiny(tmp_path, **{"train.mixed_precision": "true"})
    assert main(args) == 0
    assert re.search(r"synthetic/AP: \d\.\d{4}", capsys.readouterr().out)
    assert keras.mixed_precision.global_policy().name == "float32"
    recipe = load_recipe(args[0], args[1:-1])
    run = build_run(recipe, recipe.dataset_info, default_strategy(), tmp_path / "run")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert isinstance(run.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(run.optimizer.dynamic_scale.numpy()) == 2.0**16
    layers, convs = list(run.model.layers), []
    while layers:  # through the nested backbone / head models
        layer = layers.pop()
        layers += getattr(layer, "layers", [])
        convs += [layer] if isinstance(layer, keras.layers.Conv2D) else []
    assert convs and all(layer.compute_dtype == "float16" for layer in convs)
    assert run.model.output.dtype == "float32"
