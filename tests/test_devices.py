"""``kpose.devices``: which parts compile with XLA, per device, and the ``KPOSE_XLA`` override."""

from __future__ import annotations

import pytest

from kpose import devices
from kpose.errors import KposeError


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("KPOSE_XLA", raising=False)


def test_cpu_compiles_only_augmentation_and_decoding(monkeypatch):
    monkeypatch.setattr(devices, "accelerator_present", lambda: False)
    assert {p: devices.use_xla(p) for p in devices.PARTS} == {
        "model": False,
        "train_step": False,
        "augment": True,
        "decode": True,
    }


def test_accelerator_compiles_everything(monkeypatch):
    monkeypatch.setattr(devices, "accelerator_present", lambda: True)
    assert all(devices.use_xla(p) for p in devices.PARTS)


def test_a_recipe_value_wins_over_the_device_and_the_environment(monkeypatch):
    monkeypatch.setenv("KPOSE_XLA", "all")
    assert devices.use_xla("model", override=False) is False
    monkeypatch.setenv("KPOSE_XLA", "none")
    assert devices.use_xla("model", override=True) is True


@pytest.mark.parametrize(
    ("setting", "compiled"),
    [
        ("all", {"model", "train_step", "augment", "decode"}),
        ("none", set()),
        ("model, decode", {"model", "decode"}),
        ("AUTO", {"augment", "decode"}),
    ],
)
def test_the_environment_chooses_the_parts(monkeypatch, setting, compiled):
    monkeypatch.setattr(devices, "accelerator_present", lambda: False)
    monkeypatch.setenv("KPOSE_XLA", setting)
    assert {p for p in devices.PARTS if devices.use_xla(p)} == compiled


def test_unknown_parts_are_refused_by_name(monkeypatch):
    monkeypatch.setenv("KPOSE_XLA", "model,backbone")
    with pytest.raises(KposeError, match="KPOSE_XLA='model,backbone': unknown part.*backbone"):
        devices.use_xla("model")
    with pytest.raises(KposeError, match="unknown compile part 'head'"):
        devices.use_xla("head")


def test_describe_names_the_device():
    assert devices.describe().startswith(("CPU", "GPU", "TPU"))
