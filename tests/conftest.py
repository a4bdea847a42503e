"""Shared fixtures: the sample datasets of ../shared/data/samples and small converted copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
