"""docs/custom-keypoints.md runs as written: its bash and python blocks, in order, from a
checkout-like folder (``../shared/data/samples`` beside it), offline, with the COCO checkpoint
it fine-tunes from placed in ``$KPOSE_HOME`` (random weights of the preset's model, as an
MMPose ``.pth``).

The full tutorial (ResNet-50 at 256x192) is slow; CI runs the same commands with the recipe's
base and checkpoint swapped for the quickstart's small HRNet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import kpose
from kpose.weights.state_dict import model_state_dict
from tests.weights.torch_files import write_torch_state_dict

DOC = Path(__file__).parents[1] / "docs" / "custom-keypoints.md"


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S)


def _run_tutorial(tmp_path: Path, samples: Path, preset: str, text: str) -> dict[str, str]:
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(samples.parent, target_is_directory=True)
    home = tmp_path / "home"
    home.mkdir()
    keras.utils.set_random_seed(0)
    state = model_state_dict(kpose.build_model(preset))
    write_torch_state_dict(home / f"{preset}.pth", state)
    env = {
        **os.environ,
        "KPOSE_HOME": str(home),
        "KPOSE_OFFLINE": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    outputs = {}
    for i, (kind, code) in enumerate(_blocks(text)):
        command = ["bash", "-euo", "pipefail", "-c", code]
        if kind == "python":
            command = [sys.executable, "-c", code]
        done = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=1500
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"block {i} ({kind}) failed:\n{code}\n{output[-4000:]}"
        outputs[f"{i}:{code.split()[0] if code.split() else ''}"] = output
    return {"work": work, "all": "\n".join(outputs.values())}


def _check(result: dict, num_keypoints: int = 5) -> None:
    work, log = result["work"], result["all"]
    assert "mis-shaped (kept fresh)" in log and "head.final_layer.weight" in log
    assert f"model ({num_keypoints}, " in log  # PyTorch layout: (K, C, 1, 1)
    assert "frozen_stages 1:" in log
    history = [json.loads(line) for line in (work / "work_dirs/face5/history.jsonl").open()]
    assert history[-1]["loss"] < history[0]["loss"], history  # fine-tuning trains
    meta = json.loads((work / "tfrecords/face5/meta.json").read_text())
    assert meta["num_keypoints"] == 5 and meta["dataset"] == "face5"
    assert meta["splits"]["train"]["report"]["instances_kept"] > 0
    rows = json.loads((work / "face5/infer/results.json").read_text())
    assert rows and all(len(r["keypoints"]) == 5 * 3 for r in rows)
    assert (work / "face5/infer/vis/000000000785.jpg").stat().st_size > 0
    assert (work / "face5/drawn.jpg").stat().st_size > 0
    assert "(1, 5, 2)" in log
    assert "face5/AP" in log  # kpose.evaluate's table


def test_the_tutorial_runs_with_the_quickstart_model(tmp_path, samples):
    text = DOC.read_text()
    assert "base: resnet50_coco.yaml" in text and "load_from: resnet50" in text
    text = text.replace("base: resnet50_coco.yaml", "base: quickstart.yaml")
    text = text.replace("load_from: resnet50", "load_from: quickstart")
    _check(_run_tutorial(tmp_path, samples, "quickstart", text))


@pytest.mark.slow  # ResNet-50 at 256x192: a few minutes on 2 cores
def test_the_tutorial_runs_as_written(tmp_path, samples):
    _check(_run_tutorial(tmp_path, samples, "resnet50", DOC.read_text()))
