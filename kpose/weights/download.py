"""Weights by URL: MMPose checkpoints and ImageNet backbone starts, downloaded once into
``$KPOSE_HOME/checkpoints/<file name>`` and verified.

``fetch(url)`` gives the local file of an ``http(s)://`` or ``file://`` URL. A file already in
the cache is used as it is, without the network. Otherwise the URL is streamed into a temporary
file beside its final place, fsynced, checked and only then renamed to its final name, so an
interrupted download never leaves a file that looks complete (temporary files are never read
back). The check is the sha256 prefix that MMPose and torchvision put in their file names
(``td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth``, ``resnet50-0676ba61.pth``);
a file whose digest does not match is deleted and reported. Names without a hash
(``pvt_small.pth``) are not checked, which is logged.

Environment: ``KPOSE_WEIGHTS_MIRROR=<base URL>`` replaces the scheme and host of every http(s)
weights URL (``https://download.openmmlab.com/mmpose/v1/x.pth`` with the mirror
``http://10.0.0.5/weights`` is fetched from ``http://10.0.0.5/weights/mmpose/v1/x.pth``; a
``file:///srv/weights`` base reads a local copy of the tree); ``KPOSE_OFFLINE=1`` never opens
a connection: a file missing from the cache raises ``ModelError`` saying which file to place
where.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import logging
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from kpose.errors import ModelError

log = logging.getLogger(__name__)

MAX_BYTES = 4 << 30  # the largest checkpoint kpose downloads (ViTPose-H is 2.5 GB)
TIMEOUT_SECONDS = 60.0  # to connect, and between two reads of the body
CHUNK_BYTES = 1 << 20
STALE_PART_SECONDS = 24 * 3600  # a temporary file untouched this long is a killed download's
# The sha256 prefix at the end of a file name's stem, before an optional _YYYYMMDD date:
# MMPose's "...-81c58e40_20220909", mmcls's "..._20210531-db14775a", torchvision's
# "resnet50-0676ba61".
_HASH = re.compile(r"-(?P<sha256>[0-9a-f]{8,64})(?:_\d{8})?$")
_URL = re.compile(r"^(https?|file)://", re.IGNORECASE)


def kpose_home() -> Path:
    """Where kpose keeps weights: ``$KPOSE_HOME``, by default ``~/.kpose``."""
    return Path(os.environ.get("KPOSE_HOME", Path.home() / ".kpose")).expanduser()


def checkpoints_dir() -> Path:
    """The download cache, ``$KPOSE_HOME/checkpoints``."""
    return kpose_home() / "checkpoints"


def is_url(text: object) -> bool:
    """Whether ``text`` is an ``http://``, ``https://`` or ``file://`` URL (a ``Path`` never
    is)."""
    return isinstance(text, str) and bool(_URL.match(text))


def offline() -> bool:
    """``KPOSE_OFFLINE`` is set to something other than empty, ``0``, ``false`` or ``no``."""
    return os.environ.get("KPOSE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def url_file_name(url: str) -> str:
    """The file name a URL's path ends with (``.../coco/x-81c58e40_20220909.pth`` ->
    ``x-81c58e40_20220909.pth``); ``ModelError`` when the path names no file."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    if not name or name in (".", ".."):
        raise ModelError(f"weights URL {url}: its path names no file")
    return name


def expected_sha256_prefix(file_name: str) -> str | None:
    """The sha256 prefix a file name carries (MMPose's ``...-81c58e40_20220909.pth``,
    torchvision's ``resnet50-0676ba61.pth``), or None when it carries none."""
    suffix = ".weights.h5" if file_name.endswith(".weights.h5") else Path(file_name).suffix
    match = _HASH.search(file_name[: len(file_name) - len(suffix)])
    return match.group("sha256") if match else None


def mirrored(url: str) -> str:
    """``url`` with its scheme and host replaced by ``$KPOSE_WEIGHTS_MIRROR`` (http(s) URLs
    only; ``file://`` URLs and an unset mirror leave it as it is)."""
    mirror = os.environ.get("KPOSE_WEIGHTS_MIRROR", "").strip()
    parts = urllib.parse.urlsplit(url)
    if not mirror or parts.scheme.lower() not in ("http", "https"):
        return url
    if not is_url(mirror):
        raise ModelError(
            f"KPOSE_WEIGHTS_MIRROR={mirror!r}: expected a base URL such as "
            "http://host/path or file:///path"
        )
    query = f"?{parts.query}" if parts.query else ""
    return f"{mirror.rstrip('/')}{parts.path}{query}"


def fetch(
    url: str,
    *,
    progress: bool = True,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_BYTES,
) -> Path:
    """The local copy of the weights at ``url`` (``http(s)://`` or ``file://``), downloaded into
    ``$KPOSE_HOME/checkpoints/<file name>`` unless it is already there.

    The download shows a progress bar on stderr (``progress``), gives up when the server is
    silent for ``timeout`` seconds, refuses more than ``max_bytes``, and lands under its final
    name only once complete and verified (see the module docstring). Raises ``ModelError``
    naming the URL: HTTP errors with their status, an unreachable host, an interrupted or
    oversized body, a sha256 mismatch (expected and got; the download is deleted), or, with
    ``KPOSE_OFFLINE=1``, the file to place and where.
    """
    if not is_url(url):
        raise ModelError(f"{url!r}: not an http(s):// or file:// URL")
    name = url_file_name(url)
    target = checkpoints_dir() / name
    if target.is_file():
        log.debug("weights %s: cached at %s", url, target)
        return target
    source = mirrored(url)
    if offline() and urllib.parse.urlsplit(source).scheme.lower() != "file":
        raise ModelError(
            f"KPOSE_OFFLINE is set and {name} is not in the cache: place {name} at {target} "
            f"(downloaded from {source})"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(target)
    expected = expected_sha256_prefix(name)
    if expected is None:
        log.warning("weights %s: no sha256 prefix in the file name, so it is not verified", name)
    handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _download(source, out, name, progress, timeout, max_bytes)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and not digest.startswith(expected):
            raise ModelError(
                f"download of {source}: sha256 {digest[: len(expected)]}... does not match the "
                f"{expected} in its file name; the file was deleted (a corrupt download or a "
                "wrong mirror)"
            )
        os.replace(temp, target)
        _fsync_dir(target.parent)
    finally:
        temp.unlink(missing_ok=True)
    log.info("downloaded %s to %s", source, target)
    return target


def _download(source: str, out, name: str, progress: bool, timeout: float, max_bytes: int) -> str:
    """Stream ``source`` into the open file ``out``; the hex sha256 of what was written."""
    request = urllib.request.Request(source, headers={"User-Agent": "kpose"})
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            total = int(header) if header and header.isdigit() else None
            if total is not None and total > max_bytes:
                raise ModelError(
                    f"download of {source}: {total} bytes announced, more than the limit of "
                    f"{max_bytes}"
                )
            sha256 = hashlib.sha256()
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                file=sys.stderr,
                disable=not progress,
            ) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ModelError(
                            f"download of {source}: more than the limit of {max_bytes} bytes"
                        )
                    sha256.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise ModelError(f"download of {source} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ModelError(f"cannot download {source}: {exc.reason}") from None
    except (http.client.HTTPException, OSError) as exc:  # a connection cut mid-body, a timeout
        raise ModelError(
            f"download of {source} interrupted after {received} bytes: {type(exc).__name__} {exc}"
        ) from None
    if total is not None and received != total:
        raise ModelError(f"download of {source} incomplete: {received} of {total} bytes")
    return sha256.hexdigest()


def _remove_stale_parts(target: Path) -> None:
    """Delete the temporary files of downloads of ``target`` killed long ago (a live download
    writes to its own at least every ``TIMEOUT_SECONDS``)."""
    now = time.time()
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        try:
            if now - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
