"""Read PyTorch ``.pth`` checkpoints (MMPose / mmengine) into numpy, without PyTorch.

``torch.save`` writes one of two formats:

- **zip** (PyTorch >= 1.6): a zip archive ``<name>/data.pkl`` (the pickled object, tensors as
  persistent ids ``("storage", StorageType, key, location, numel)``) plus one raw
  little-endian file ``<name>/data/<key>`` per storage;
- **legacy**: consecutive pickles (magic number, protocol version, system info, the object with
  ids ``("storage", StorageType, key, location, numel, view)``, the list of storage keys), then
  each storage as an int64 element count followed by its raw bytes.

Tensors are rebuilt as numpy arrays (``torch._utils._rebuild_tensor_v2``: storage, offset,
size, stride). The unpickler is restricted: only containers, numpy arrays and torch's tensor
and storage rebuilders are constructed; any other class (mmengine's ``HistoryBuffer``, config
objects, ...) becomes an inert placeholder, so a checkpoint cannot run code on load.
"""

from __future__ import annotations

import codecs
import collections
import io
import os
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from kpose.errors import ModelError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",  # no numpy dtype: widened to float32
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "UntypedStorage": np.uint8,
}
_multiarray = getattr(np, "_core", None) or np.core  # numpy >= 2 / < 2
# Safe globals a checkpoint may name, besides torch's storages and rebuilders.
_SAFE = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 pickles numpy's raw bytes
    ("numpy.core.multiarray", "_reconstruct"): _multiarray.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class Opaque:
    """Stands in for a class the restricted unpickler does not construct."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state):
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.qualname}>"


def _opaque(module: str, name: str) -> type:
    return type(name, (Opaque,), {"qualname": f"{module}.{name}"})


class _Storage:
    """A storage reference: dtype name, the key of its bytes and, for a legacy view, the
    element offset of the view into them."""

    def __init__(self, kind: str, key: str, view_offset: int = 0):
        self.kind, self.key, self.view_offset = kind, key, view_offset


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage, offset, size, stride, *_):
    return ("tensor", storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file, encoding="utf-8")
        self.storages = storages

    def find_class(self, module, name):
        if module.startswith("torch"):
            if name in _STORAGE_DTYPES:
                return _StorageType(name)
            if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return _rebuild_tensor
            if name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
                return _rebuild_parameter
        safe = _SAFE.get((module, name))
        if safe is not None:
            return safe
        if module == "numpy" and name in ("float32", "float64", "int64", "int32", "bool_"):
            return getattr(np, name)
        return _opaque(module, name)

    def persistent_load(self, pid):
        kind = pid[0].decode() if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        storage_type, key = pid[1], str(pid[2])
        name = storage_type.name if isinstance(storage_type, _StorageType) else "UntypedStorage"
        storage = self.storages.setdefault(key, _Storage(name, key))
        if len(pid) > 5 and pid[5] is not None:  # legacy view: (view key, offset, size)
            return _Storage(name, key, int(pid[5][1]))
        return storage


def _decode(kind: str, raw: bytes | memoryview, byteorder: str = "little") -> np.ndarray:
    dtype = _STORAGE_DTYPES[kind]
    if dtype == "bfloat16":  # the upper half of a float32
        halves = np.frombuffer(raw, np.dtype("<u2" if byteorder == "little" else ">u2"))
        return (halves.astype(np.uint32) << 16).view(np.float32)
    array = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">"))
    return array.astype(array.dtype.newbyteorder("="))


def _materialise(obj, arrays: Mapping[str, np.ndarray]):
    """Replace tensor placeholders by numpy arrays, recursively."""
    if isinstance(obj, tuple) and len(obj) == 5 and obj[0] == "tensor":
        _, storage, offset, size, stride = obj
        flat = arrays[storage.key]
        offset += storage.view_offset
        if not size:
            return np.array(flat[offset])
        itemsize = flat.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * itemsize for s in stride]
        ).copy()
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _materialise(v, arrays)
        return out
    if isinstance(obj, list):
        return [_materialise(v, arrays) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v, arrays) for v in obj)
    return obj


def _read_zip(path: Path) -> object:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl")]
        if not pkl:
            raise ModelError(f"{path}: a zip file without data.pkl is not a torch checkpoint")
        root = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if f"{root}byteorder" in names:
            byteorder = archive.read(f"{root}byteorder").decode().strip()
        storages: dict[str, _Storage] = {}
        obj = _Unpickler(io.BytesIO(archive.read(pkl[0])), storages).load()
        arrays = {}
        for key, storage in storages.items():
            arrays[key] = _decode(storage.kind, archive.read(f"{root}data/{key}"), byteorder)
    return _materialise(obj, arrays)


def _read_legacy(path: Path) -> object:
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception as exc:
            raise ModelError(f"{path}: not a PyTorch checkpoint ({exc})") from exc
        if magic != _LEGACY_MAGIC:
            raise ModelError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info (endianness, type sizes)
        storages: dict[str, _Storage] = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        arrays = {}
        for key in keys:
            storage = storages[str(key)]
            (numel,) = struct.unpack("<q", f.read(8))
            itemsize = (
                2
                if storage.kind == "BFloat16Storage"
                else np.dtype(_STORAGE_DTYPES[storage.kind]).itemsize
            )
            arrays[str(key)] = _decode(storage.kind, f.read(numel * itemsize))
    return _materialise(obj, arrays)


def read_torch_checkpoint(path: str | os.PathLike) -> object:
    """The object ``torch.save`` wrote to ``path`` (zip or legacy format), tensors as numpy."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint file not found")
    try:
        if zipfile.is_zipfile(path):
            return _read_zip(path)
        return _read_legacy(path)
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error, ValueError) as exc:
        raise ModelError(f"{path}: cannot read this PyTorch checkpoint ({exc})") from exc


def mmpose_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The model state dict of an MMPose checkpoint: ``checkpoint["state_dict"]`` (mmengine
    checkpoints also carry ``meta``, ``message_hub``, ``optimizer``), ``checkpoint["model"]``
    (the original Swin / DeiT releases), or the checkpoint itself when it is a plain state
    dict; a ``module.`` prefix (DataParallel) is removed."""
    obj = read_torch_checkpoint(path)
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise ModelError(f"{path}: no state dict of tensors in this checkpoint")
    return {k.removeprefix("module."): v for k, v in obj.items()}
