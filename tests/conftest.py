"""Shared fixtures: the sample datasets of ../shared/data/samples and small converted copies;
``KPOSE_OFFLINE=1`` for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never reach the internet: a download they did not mean (a recipe's backbone_weights
# URL, kpose.load of a preset) fails at once, naming the file. Tests of downloads serve files
# from 127.0.0.1 or file:// and unset it with monkeypatch.
os.environ["KPOSE_OFFLINE"] = "1"
os.environ.pop("KPOSE_WEIGHTS_MIRROR", None)

_CANDIDATES = [
    os.environ.get("KPOSE_SAMPLES", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "data" / "samples"),
    "/work/shared/data/samples",
]


def _find_samples() -> Path | None:
    for candidate in _CANDIDATES:
        if candidate and (Path(candidate) / "coco" / "test_coco.json").is_file():
            return Path(candidate)
    return None


SAMPLES = _find_samples()


@pytest.fixture(scope="session")
def samples() -> Path:
    if SAMPLES is None:
        pytest.fail("sample datasets not found: set KPOSE_SAMPLES to shared/data/samples")
    return SAMPLES
