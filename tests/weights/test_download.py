"""Weights by URL (``kpose.weights.download``, ``load_weights(model, url)``): checkpoints served
from a loopback HTTP server or ``file://``, checked against the sha256 prefix in their name,
written atomically, cached (the download and the converted Keras weights), the mirror and
offline variables, and the errors (wrong hash, cut connection, HTTP 404, size limit)."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights import download
from kpose.weights import load as load_module
from kpose.weights.download import expected_sha256_prefix, fetch, is_url, mirrored
from kpose.weights.load import converted_weights_path, load_backbone_weights, load_weights
from kpose.weights.state_dict import model_state_dict
from tests.weights.torch_files import write_torch_state_dict

TINY = ModelConfig(
    "resnet18", {"base_channels": 8, "stem_channels": 8}, head=HeadConfig((8,), (4,))
)


def tiny_model(seed: int | None = None):
    model = build_heatmap_model(TINY, (32, 64), 3, name="tiny")
    if seed is not None:
        rng = np.random.default_rng(seed)
        model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def hashed_checkpoint(folder: Path, state: dict, stem: str = "tiny", wrap="state_dict") -> Path:
    """``state`` as ``<stem>-<sha256[:8]>_20240101.pth``, the way MMPose names its files."""
    raw = write_torch_state_dict(folder / "raw.pth", state, wrap=wrap)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    return raw.rename(folder / f"{stem}-{digest[:8]}_20240101.pth")


class Server:
    """Files over HTTP on 127.0.0.1: ``files`` path -> bytes, ``requests`` the paths asked for,
    ``cut`` sends half of the next body (with the full Content-Length) and closes."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.cut = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut:
                    server.cut = False
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: Path, at: str = "/weights") -> str:
        url_path = f"{at}/{path.name}"
        self.files[url_path] = path.read_bytes()
        return self.base + url_path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty ``$KPOSE_HOME``, online (the test session is offline), no mirror."""
    monkeypatch.setenv("KPOSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KPOSE_OFFLINE", raising=False)
    monkeypatch.delenv("KPOSE_WEIGHTS_MIRROR", raising=False)
    return tmp_path / "home"


def assert_same_weights(a, b):
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_names_urls_and_hashes():
    assert expected_sha256_prefix("td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth")
    assert expected_sha256_prefix("x_coco-256x192-62d7a712_20230314.pth") == "62d7a712"
    assert expected_sha256_prefix("resnet50-0676ba61.pth") == "0676ba61"
    assert expected_sha256_prefix("resnetv1d50_b32x8_imagenet_20210531-db14775a.pth") == "db14775a"
    assert expected_sha256_prefix("hrformer_small-09516375_20220226.pth") == "09516375"
    for name in ("pvt_small.pth", "mae_pretrain_vit_small_20230913.pth", "swin_224_22k.pth"):
        assert expected_sha256_prefix(name) is None, name
    assert is_url("https://a/b.pth") and is_url("file:///a/b.pth") and is_url("HTTP://a/b")
    assert not is_url("/a/b.pth") and not is_url(Path("https://a/b.pth"))


def test_mirror_replaces_scheme_and_host(monkeypatch):
    url = "https://download.openmmlab.com/mmpose/v1/x.pth"
    monkeypatch.delenv("KPOSE_WEIGHTS_MIRROR", raising=False)
    assert mirrored(url) == url
    monkeypatch.setenv("KPOSE_WEIGHTS_MIRROR", "http://127.0.0.1:8000/base")
    assert mirrored(url) == "http://127.0.0.1:8000/base/mmpose/v1/x.pth"
    assert mirrored("file:///data/x.pth") == "file:///data/x.pth"
    monkeypatch.setenv("KPOSE_WEIGHTS_MIRROR", "mirror.local")
    with pytest.raises(ModelError, match="KPOSE_WEIGHTS_MIRROR"):
        mirrored(url)


def test_download_verify_cache_and_load_again_without_network(home, server, tmp_path):
    source = tiny_model(seed=0)
    url = server.serve(hashed_checkpoint(tmp_path, model_state_dict(source)))
    name = url.rsplit("/", 1)[-1]

    first = tiny_model()
    load_weights(first, url, cache_key="tiny-preset")
    assert_same_weights(first, source)
    assert server.requests == [f"/weights/{name}"]
    converted = converted_weights_path(url, "tiny-preset")
    assert converted == home / "converted" / "tiny-preset" / f"{name[: -len('.pth')]}.weights.h5"
    assert files_under(home) == sorted([f"checkpoints/{name}", str(converted.relative_to(home))])

    second = tiny_model()
    load_weights(second, url, cache_key="tiny-preset")  # from the converted cache
    assert_same_weights(second, source)
    assert fetch(url) == home / "checkpoints" / name  # the cached download
    assert len(server.requests) == 1


def test_a_converted_cache_hit_does_not_convert_again(home, server, tmp_path, monkeypatch):
    source = tiny_model(seed=1)
    url = server.serve(hashed_checkpoint(tmp_path, model_state_dict(source)))
    load_weights(tiny_model(), url)  # cache key: the model's name
    assert converted_weights_path(url, "tiny").is_file()

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(load_module, "assign_state_dict", no_conversion)
    (home / "checkpoints" / url.rsplit("/", 1)[-1]).unlink()  # not needed any more
    monkeypatch.setenv("KPOSE_OFFLINE", "1")
    again = tiny_model()
    load_weights(again, url)
    assert_same_weights(again, source)
    assert len(server.requests) == 1


def test_an_unreadable_converted_cache_is_deleted_and_rebuilt(home, server, tmp_path, caplog):
    source = tiny_model(seed=2)
    url = server.serve(hashed_checkpoint(tmp_path, model_state_dict(source)))
    converted = converted_weights_path(url, "tiny")
    converted.parent.mkdir(parents=True)
    converted.write_bytes(b"not an h5 file")
    model = tiny_model()
    with caplog.at_level(logging.WARNING, logger="kpose"):
        load_weights(model, url)
    assert "do not load" in caplog.text
    assert_same_weights(model, source)
    again = tiny_model()
    again.load_weights(str(converted))  # the rebuilt cache is a real weights file
    assert_same_weights(again, source)


def test_a_wrong_hash_is_deleted_reported_and_never_cached(home, server, tmp_path):
    path = write_torch_state_dict(
        tmp_path / "tiny-deadbeef_20240101.pth", {"w": np.ones(3, np.float32)}
    )
    actual = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    url = server.serve(path)
    with pytest.raises(ModelError) as err:
        load_weights(tiny_model(), url)
    message = str(err.value)
    assert url in message and "deadbeef" in message and actual in message
    assert files_under(home) == []  # no file, no temporary file, no converted weights
    with pytest.raises(ModelError, match="deadbeef"):
        fetch(url)  # nothing was trusted: asked again
    assert len(server.requests) == 2


def test_an_interrupted_download_leaves_nothing_a_later_load_trusts(home, server, tmp_path):
    source = tiny_model(seed=3)
    url = server.serve(hashed_checkpoint(tmp_path, model_state_dict(source)))
    server.cut = True
    with pytest.raises(ModelError, match="interrupted|incomplete") as err:
        load_weights(tiny_model(), url)
    assert url in str(err.value)
    assert files_under(home) == []
    model = tiny_model()
    load_weights(model, url)  # downloads again, completely
    assert_same_weights(model, source)
    assert len(server.requests) == 2


def test_temporary_files_of_killed_downloads_are_never_read(home, server, tmp_path):
    """A download killed outright (``kill -9``) leaves its ``.<name>.<random>.part``: never
    read, removed by a later download of that file once a day old."""
    checkpoint = hashed_checkpoint(tmp_path, model_state_dict(tiny_model(seed=9)))
    url = server.serve(checkpoint)
    folder = home / "checkpoints"
    folder.mkdir(parents=True)
    old, fresh = folder / f".{checkpoint.name}.old.part", folder / f".{checkpoint.name}.new.part"
    for part in (old, fresh):
        part.write_bytes(checkpoint.read_bytes())
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    assert fetch(url, progress=False) == folder / checkpoint.name
    assert len(server.requests) == 1  # downloaded although complete copies lay beside it
    assert not old.exists() and fresh.exists()


def test_offline_names_the_file_and_where_to_put_it(home, server, tmp_path, monkeypatch):
    checkpoint = hashed_checkpoint(tmp_path, model_state_dict(tiny_model(seed=4)))
    url = server.serve(checkpoint)
    monkeypatch.setenv("KPOSE_OFFLINE", "1")
    target = home / "checkpoints" / checkpoint.name
    with pytest.raises(ModelError) as err:
        load_weights(tiny_model(), url)
    assert f"place {checkpoint.name} at {target} (downloaded from {url})" in str(err.value)
    assert server.requests == []
    target.parent.mkdir(parents=True)
    checkpoint.rename(target)  # placed by hand: used offline
    assert fetch(url) == target
    assert server.requests == []


def test_the_mirror_serves_every_weights_url(home, server, tmp_path, monkeypatch):
    checkpoint = hashed_checkpoint(tmp_path, model_state_dict(tiny_model(seed=5)))
    server.serve(checkpoint, at="/base/mmpose/v1")
    monkeypatch.setenv("KPOSE_WEIGHTS_MIRROR", f"{server.base}/base")
    path = fetch(f"https://download.openmmlab.com/mmpose/v1/{checkpoint.name}", progress=False)
    assert server.requests == [f"/base/mmpose/v1/{checkpoint.name}"]
    assert path == home / "checkpoints" / checkpoint.name


def test_file_urls_are_copied_verified_and_loaded(home, tmp_path):
    source = tiny_model(seed=6)
    checkpoint = hashed_checkpoint(tmp_path, model_state_dict(source))
    model = tiny_model()
    load_weights(model, checkpoint.as_uri())
    assert_same_weights(model, source)
    assert checkpoint.is_file()  # the user's file is left alone
    assert (home / "checkpoints" / checkpoint.name).read_bytes() == checkpoint.read_bytes()
    with pytest.raises(ModelError, match="missing.pth"):
        fetch((tmp_path / "missing.pth").as_uri())


def test_weights_h5_urls_load_too(home, server, tmp_path):
    source = tiny_model(seed=7)
    source.save_weights(str(tmp_path / "tiny.weights.h5"))
    model = tiny_model()
    load_weights(model, server.serve(tmp_path / "tiny.weights.h5"))
    assert_same_weights(model, source)


def test_http_errors_and_limits_are_reported(home, server, tmp_path, caplog):
    with pytest.raises(ModelError, match=r"HTTP 404") as err:
        fetch(f"{server.base}/weights/nothing-0123abcd.pth", progress=False)
    assert f"{server.base}/weights/nothing-0123abcd.pth" in str(err.value)
    url = server.serve(
        write_torch_state_dict(tmp_path / "plain.pth", {"w": np.ones(64, np.float32)})
    )
    with pytest.raises(ModelError, match="limit of 100"):
        fetch(url, max_bytes=100, progress=False)
    assert files_under(home) == []
    with caplog.at_level(logging.WARNING, logger="kpose"):
        assert fetch(url, progress=False).is_file()  # no hash in the name: loaded, logged
    assert "not verified" in caplog.text


def test_backbone_weights_from_a_url(home, server, tmp_path):
    """``load_backbone_weights`` (``train.backbone_weights``) of a torchvision-style plain state
    dict with backbone-relative keys, by URL."""
    source = tiny_model(seed=8)
    imagenet = {
        k.removeprefix("backbone."): v
        for k, v in model_state_dict(source).items()
        if k.startswith("backbone.")
    }
    imagenet["fc.weight"] = np.zeros((10, 64), np.float32)
    url = server.serve(hashed_checkpoint(tmp_path, imagenet, stem="resnet18", wrap=None))
    target = tiny_model()
    result = load_backbone_weights(target, url)
    assert result.unexpected_keys == ["backbone.fc.weight"] and result.missing_keys == []
    after = model_state_dict(target)
    for key, value in imagenet.items():
        if key != "fc.weight":
            np.testing.assert_array_equal(after[f"backbone.{key}"], value)
    load_backbone_weights(tiny_model(), url)
    assert len(server.requests) == 1


def test_fetch_is_offline_in_the_test_session():
    """``tests/conftest.py`` sets ``KPOSE_OFFLINE=1``: an accidental download fails at once."""
    assert download.offline()
    with pytest.raises(ModelError, match="KPOSE_OFFLINE"):
        fetch("https://download.openmmlab.com/mmpose/v1/never-0123abcd_20240101.pth")
