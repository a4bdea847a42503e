"""Run code in the MMPose reference virtualenv (``../shared/tools/mmpose-ref.sh``) and get
arrays back.

The reference python is ``$KPOSE_MMPOSE_REF`` or ``~/.cache/kpose-mmpose-ref/bin/python``;
tests that need it use the ``mmpose_ref`` fixture (``tests/parity/conftest.py``) and are skipped
when it is absent. Data goes in and out as ``.npz`` files: the snippet sees ``inputs`` (a dict
of arrays loaded from the input npz) and ``MMPOSE_CONFIGS`` (the folder of MMPose's configs),
and fills ``outputs`` (a dict of arrays or JSON-able values).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path

import numpy as np

DEFAULT_REF = Path.home() / ".cache" / "kpose-mmpose-ref" / "bin" / "python"

_PRELUDE = """
import json, os, sys, warnings
import numpy as np
warnings.filterwarnings("ignore")
_in, _out = sys.argv[1], sys.argv[2]
inputs = dict(np.load(_in, allow_pickle=False)) if os.path.getsize(_in) else {}
import mmpose
MMPOSE_CONFIGS = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
outputs = {}
"""

_EPILOGUE = """
arrays = {k: np.asarray(v) for k, v in outputs.items() if not isinstance(v, (dict, list, str))}
others = {k: v for k, v in outputs.items() if isinstance(v, (dict, list, str))}
np.savez(_out, __json__=np.array(json.dumps(others)), **arrays)
"""


def reference_python() -> Path | None:
    """The reference interpreter, or None when it is not installed."""
    path = Path(os.environ.get("KPOSE_MMPOSE_REF", DEFAULT_REF))
    return path if path.is_file() else None


def run_reference(code: str, timeout: float = 900, **inputs) -> dict:
    """Execute ``code`` in the reference venv; returns ``outputs`` (arrays + JSON values)."""
    python = reference_python()
    if python is None:
        raise RuntimeError("MMPose reference not installed (see ../shared/tools/mmpose-ref.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        if inputs:
            np.savez(in_path, **{k: np.asarray(v) for k, v in inputs.items()})
        else:
            in_path.write_bytes(b"")
        script = Path(tmp) / "snippet.py"
        script.write_text(_PRELUDE + textwrap.dedent(code) + _EPILOGUE)
        proc = subprocess.run([str(python), str(script), str(in_path), str(out_path)],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        if proc.returncode != 0:
            raise RuntimeError(f"reference snippet failed:\n{proc.stderr[-4000:]}")
        with np.load(out_path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files if k != "__json__"}
            out.update(json.loads(str(data["__json__"])))
        return out
