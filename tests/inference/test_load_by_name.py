"""``kpose.load(name)`` with no local file: the preset's checkpoint comes from the mirror (a
loopback server under the preset URL's path), is verified, converted once and cached, and
predicts exactly what the same file given as ``weights=`` predicts; a second load downloads
nothing.

The preset's real file name carries the sha256 prefix of MMPose's real checkpoint, which no
random checkpoint can match (a 32-bit preimage), so the test points the preset at the same URL
path with its own checkpoint's name and prefix (``dataclasses.replace`` of the table entry).
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import cv2
import keras
import numpy as np
import pytest

import kpose
from kpose import presets
from kpose.weights.state_dict import model_state_dict
from tests.weights.test_download import Server, hashed_checkpoint


# hrnet-w32 (the case) takes ~2 min on 2 cores; quickstart (no checkpoint of its own:
# it borrows hrnet-w32's URL path) runs the same path in CI.
@pytest.mark.parametrize("name", ["quickstart", pytest.param("hrnet-w32", marks=pytest.mark.slow)])
def test_load_by_name_downloads_verifies_caches_and_predicts(name, samples, tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    model = kpose.build_model(name)
    real = presets.get("hrnet-w32").weights
    stem = PurePosixPath(urlsplit(real).path).name.rsplit("-", 1)[0]
    checkpoint = hashed_checkpoint(tmp_path, model_state_dict(model), stem=stem)
    url_path = str(PurePosixPath(urlsplit(real).path).parent / checkpoint.name)
    preset = dataclasses.replace(presets.get(name), weights="https://example.org" + url_path)
    monkeypatch.setitem(presets.PRESETS, name, preset)
    server = Server()
    try:
        server.files[url_path] = checkpoint.read_bytes()
        monkeypatch.setenv("KPOSE_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("KPOSE_OFFLINE")
        monkeypatch.setenv("KPOSE_WEIGHTS_MIRROR", server.base)

        image = cv2.cvtColor(
            cv2.imread(str(samples / "coco" / "000000000785.jpg")), cv2.COLOR_BGR2RGB
        )
        boxes = np.array([[280, 40, 520, 420, 0.9], [10, 20, 200, 300, 0.5]], np.float32)
        by_name = kpose.load(name, detector=None).predict(image, boxes)
        assert server.requests == [url_path]
        home = tmp_path / "home"
        assert (home / "checkpoints" / checkpoint.name).is_file()
        assert list((home / "converted" / name).glob("*.weights.h5"))

        by_file = kpose.load(name, weights=checkpoint, detector=None).predict(image, boxes)
        again = kpose.load(name, detector=None).predict(image, boxes)
        assert server.requests == [url_path]  # the second load came from the cache
    finally:
        server.close()
    for key in ("keypoints", "scores"):
        np.testing.assert_array_equal(by_name[key], by_file[key])
        np.testing.assert_array_equal(again[key], by_file[key])
