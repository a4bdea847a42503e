"""Reading PyTorch checkpoints without PyTorch, and ``kpose.load`` with every weight format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import kpose
from kpose.errors import ModelError
from kpose.weights.torch_pickle import Opaque, mmpose_state_dict, read_torch_checkpoint

DATA = Path(__file__).parent / "data"
QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_reads_both_torch_formats(fmt):
    expected = np.load(DATA / "tiny_expected.npz")
    state_dict = mmpose_state_dict(DATA / f"tiny_{fmt}.pth")
    assert sorted(state_dict) == sorted(expected.files)
    for key in expected.files:
        assert state_dict[key].shape == expected[key].shape, key
        np.testing.assert_array_equal(state_dict[key].astype(expected[key].dtype), expected[key])
    assert state_dict["half"].dtype == np.float16
    assert state_dict["long"].dtype == np.int64
    assert state_dict["bf16"].dtype == np.float32  # widened: numpy has no bfloat16

    checkpoint = read_torch_checkpoint(DATA / f"tiny_{fmt}.pth")
    assert checkpoint["meta"]["epoch"] == 3
    np.testing.assert_array_equal(checkpoint["meta"]["np"], np.arange(3))
    assert isinstance(checkpoint["message_hub"]["log_scalars"]["loss"], Opaque)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch should-not-exist",))


def test_unpickler_never_runs_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:  # the legacy layout with a hostile object inside
        for part in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(part, f, protocol=2)
        pickle.dump({"state_dict": {"x": _Exploit()}}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    obj = read_torch_checkpoint(path)
    assert isinstance(obj["state_dict"]["x"], Opaque)
    assert not (tmp_path / "should-not-exist").exists()
    with pytest.raises(ModelError, match="no state dict of tensors"):
        mmpose_state_dict(path)


def test_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        read_torch_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="junk.pth"):
        read_torch_checkpoint(tmp_path / "junk.pth")


def test_load_lists_what_does_not_fit():
    with pytest.raises(ModelError) as err:
        kpose.load(str(QUICKSTART), weights=DATA / "tiny_zip.pth")
    message = str(err.value)
    assert "tiny_zip.pth" in message
    assert "3 mis-shaped: backbone.bn1.running_mean: checkpoint (4,), model (64,)" in message
    assert "missing: " in message
    assert "4 unexpected: bf16, half, head.slice, long" in message


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_load_round_trips_keras_files(suffix, tmp_path, monkeypatch):
    images = np.random.default_rng(0).uniform(0, 255, (2, 128, 96, 3)).astype(np.float32)
    first = kpose.load(str(QUICKSTART), weights=_random_weights(tmp_path))
    expected = np.asarray(first.heatmap_model(images, training=False))
    path = first.save(tmp_path / f"again{suffix}")
    second = kpose.load(str(QUICKSTART), weights=path)
    np.testing.assert_array_equal(
        np.asarray(second.heatmap_model(images, training=False)), expected
    )
    # $KPOSE_HOME/<preset><suffix> is found without weights=
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KPOSE_HOME", str(home))
    os.replace(path, home / f"quickstart{suffix}")
    third = kpose.load("quickstart")
    np.testing.assert_array_equal(np.asarray(third.heatmap_model(images, training=False)), expected)


def test_load_without_weights_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("KPOSE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match=str(tmp_path)):
        kpose.load("quickstart")


def _random_weights(tmp_path: Path) -> Path:
    model = kpose.build_model(str(QUICKSTART))
    rng = np.random.default_rng(1)
    for variable in model.weights:
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype(np.float32))
        else:
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(np.float32))
    path = tmp_path / "random.weights.h5"
    model.save_weights(str(path))
    return path
