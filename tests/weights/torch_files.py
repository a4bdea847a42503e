"""Torch checkpoints written without torch, for tests of the ``.pth`` reader and loaders."""

from __future__ import annotations

import io
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np


def write_torch_state_dict(
    path: Path, state_dict: dict[str, np.ndarray], wrap: str | None = "state_dict"
) -> Path:
    """``{"state_dict": ...}`` (MMPose's checkpoints; ``wrap=None``: the bare state dict, as
    torchvision's) as a torch zip checkpoint (``torch.save``'s layout: a pickle naming torch's
    storages and ``_rebuild_tensor_v2``, and one raw file per tensor), written without torch
    through stand-ins for the two torch modules the pickle names."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storage_types = {np.dtype(np.float32): "FloatStorage", np.dtype(np.int64): "LongStorage"}
    for name in storage_types.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2

    class Storage:
        def __init__(self, key, array):
            self.key, self.array = key, array

    class Tensor:
        def __init__(self, storage):
            self.storage = storage

        def __reduce__(self):
            array = self.storage.array
            stride = tuple(s // array.itemsize for s in array.strides)
            return (_rebuild_tensor_v2, (self.storage, 0, array.shape, stride, False))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, Storage):
                return None
            kind = getattr(torch, storage_types[obj.array.dtype])
            return ("storage", kind, obj.key, "cpu", obj.array.size)

    storages = [
        Storage(str(i), np.require(v, requirements="C")) for i, v in enumerate(state_dict.values())
    ]
    tensors = {k: Tensor(st) for k, st in zip(state_dict, storages, strict=True)}
    buffer = io.BytesIO()
    saved = {m: sys.modules.get(m) for m in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        Pickler(buffer, protocol=2).dump(tensors if wrap is None else {wrap: tensors})
    finally:
        for module, old in saved.items():
            if old is None:
                sys.modules.pop(module)
            else:
                sys.modules[module] = old
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return path
