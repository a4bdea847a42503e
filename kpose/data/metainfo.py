"""Keypoint metadata: names, mirror partners, body halves, OKS sigmas, joint weights, colours and
the skeleton of a dataset, read from a file.

Two kinds of file are read, both without running any code:

- kpose's YAML (``docs/custom-keypoints.md`` documents it)::

      name: face5
      keypoints:            # one row per keypoint, in the annotation files' order
        - {name: nose, swap: "", type: upper, color: [51, 153, 255], sigma: 0.026, weight: 1.0}
        - {name: left_eye, swap: right_eye, type: upper, sigma: 0.025}
        ...
      skeleton:             # links by keypoint name
        - {link: [left_eye, right_eye], color: [51, 153, 255]}

  ``swap`` (the mirror partner; '' or absent for a centre keypoint), ``type`` ('upper' /
  'lower' / '', used by the half-body augmentation), ``color`` (RGB, default MMPose's
  [255, 128, 0]; links [96, 96, 255]), ``sigma`` (OKS; all keypoints or none) and ``weight``
  (the loss weight, default 1) are optional;
- MMPose's own ``dataset_info`` files (``configs/_base_/datasets/*.py``): their literal
  structure is parsed (``dict(...)``, literals, ``[1.] * 68``, names assigned earlier in the
  file), never executed.

The built-in datasets are such YAML files shipped in ``kpose/data/keypoints/``; a name
(``get_dataset_info("coco")``) and a path (``get_dataset_info("my_points.yaml")``) take the same
path. ``DatasetInfo`` holds the index form the rest of kpose uses, derived as MMPose's
``parse_pose_metainfo`` derives it; the one exception is that each flip pair is listed once.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kpose.errors import DataError

Color = tuple[int, int, int]

BUILTIN_DIR = Path(__file__).resolve().parent / "keypoints"
DEFAULT_KEYPOINT_COLOR: Color = (255, 128, 0)  # MMPose's parse_pose_metainfo defaults
DEFAULT_LINK_COLOR: Color = (96, 96, 255)
MAX_FILE_BYTES = 8 << 20  # a metainfo file is a few hundred kB at most (COCO-WholeBody: 70 kB)
MAX_KEYPOINTS = 10_000


@dataclass(frozen=True)
class DatasetInfo:
    """Keypoint metadata of one dataset. Indices are 0-based.

    ``flip_indices[k]`` is the index of k's mirror joint, or k itself for a centre joint.
    ``flip_pairs`` lists each mirror pair once as ``(k, flip_indices[k])``, in keypoint order.
    Its first element is the joint that comes first in MMPose's ``keypoint_info``. MMPose
    1.x's own ``flip_pairs`` lists every pair twice, once in each order.
    ``skeleton`` holds the links in the order of MMPose's ``skeleton_info``.
    ``sigmas`` (empty when the file gives none) and ``joint_weights`` are the file's values
    (MMPose casts them to float32). The colours are RGB. ``source`` is the file read.
    """

    name: str
    keypoint_names: tuple[str, ...]
    flip_indices: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    upper_body_ids: tuple[int, ...]
    lower_body_ids: tuple[int, ...]
    sigmas: tuple[float, ...]
    joint_weights: tuple[float, ...]
    skeleton: tuple[tuple[int, int], ...]
    keypoint_colors: tuple[Color, ...]
    skeleton_colors: tuple[Color, ...]
    source: str = ""

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def require_sigmas(self) -> tuple[float, ...]:
        """The OKS sigmas; ``DataError`` naming the file when it gives none."""
        if not self.sigmas:
            raise DataError(
                f"{self.source or self.name}: no OKS sigmas, which COCO-style AP needs: give "
                "every keypoint a 'sigma' (COCO's are 0.025 for the eyes to 0.107 for the hips)"
            )
        return self.sigmas


def builtin_datasets() -> tuple[str, ...]:
    """The names of the datasets shipped with kpose (``kpose/data/keypoints/<name>.yaml``)."""
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))


DATASETS: tuple[str, ...] = builtin_datasets()


def get_dataset_info(name_or_path: str | os.PathLike) -> DatasetInfo:
    """The metadata of a built-in dataset (one of ``DATASETS``, case ignored) or of a metainfo
    file (``.yaml`` / ``.yml`` as documented above, or an MMPose ``dataset_info`` ``.py``).

    Raises ``DataError`` for an unknown name (the message lists the known ones) and for a file
    that does not hold valid metadata (the message names the file and the field)."""
    text = os.fspath(name_or_path)
    if text.lower() in DATASETS and not text.endswith((".yaml", ".yml", ".py")):
        return load_metainfo(BUILTIN_DIR / f"{text.lower()}.yaml")
    if text.endswith((".yaml", ".yml", ".py")) or os.sep in text or "/" in text:
        return load_metainfo(text)
    raise DataError(
        f"unknown dataset {text!r}; known datasets: {', '.join(DATASETS)} "
        "(or give a metainfo file: .yaml, or MMPose's dataset_info .py)"
    )


def load_metainfo(path: str | os.PathLike) -> DatasetInfo:
    """Read a metainfo file (kpose YAML or MMPose ``dataset_info`` .py); cached per file
    version (path, size and modification time)."""
    path = Path(path).expanduser().resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: metainfo file not readable: {exc.strerror}") from None
    if not path.is_file():
        raise DataError(f"{path}: metainfo file is not a file")
    if stat.st_size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {stat.st_size} bytes, more than a metainfo file can be")
    return _load_cached(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, size: int, mtime_ns: int) -> DatasetInfo:
    del size, mtime_ns  # part of the cache key only
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if path.endswith(".py"):
        scope = literal_config(text, path)
        if "dataset_info" not in scope:
            raise DataError(f"{path}: no 'dataset_info = dict(...)' in this MMPose file")
        return from_mmpose_dataset_info(scope["dataset_info"], path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}") from None
    return from_yaml_mapping(raw, path)


def from_yaml_mapping(raw: Any, source: str = "<mapping>") -> DatasetInfo:
    """``DatasetInfo`` from kpose's YAML form, already parsed."""
    if not isinstance(raw, Mapping):
        raise DataError(f"{source}: expected a mapping with 'name', 'keypoints', 'skeleton'")
    unknown = sorted(set(raw) - {"name", "keypoints", "skeleton"})
    if unknown:
        raise DataError(f"{source}: unknown key {unknown[0]!r}; expected name, keypoints, skeleton")
    rows = raw.get("keypoints")
    if not isinstance(rows, list) or not rows:
        raise DataError(f"{source}: 'keypoints' must be a non-empty list of keypoint rows")
    keypoints = []
    for i, row in enumerate(rows):
        if isinstance(row, str):
            row = {"name": row}
        if not isinstance(row, Mapping):
            raise DataError(f"{source}: keypoints[{i}]: expected a mapping, got {row!r}")
        bad = sorted(set(row) - {"name", "swap", "type", "color", "sigma", "weight"})
        if bad:
            raise DataError(
                f"{source}: keypoints[{i}]: unknown key {bad[0]!r}; expected name, swap, type, "
                "color, sigma, weight"
            )
        keypoints.append(row)
    links = raw.get("skeleton") or []
    if not isinstance(links, list):
        raise DataError(f"{source}: 'skeleton' must be a list of links")
    for i, link in enumerate(links):
        if not isinstance(link, Mapping) or set(link) - {"link", "color"} or "link" not in link:
            raise DataError(
                f"{source}: skeleton[{i}]: expected {{link: [name_a, name_b], color: [r, g, b]}}"
                f", got {link!r}"
            )
    sigmas = [row.get("sigma") for row in keypoints]
    given = [s is not None for s in sigmas]
    if any(given) and not all(given):
        missing = [str(row.get("name")) for row, g in zip(keypoints, given, strict=True) if not g]
        raise DataError(f"{source}: 'sigma' given for some keypoints but not for {missing[:5]}")
    return _build(
        name=raw.get("name", Path(source).stem),
        keypoints=keypoints,
        links=links,
        weights=[row.get("weight", 1.0) for row in keypoints],
        sigmas=sigmas if all(given) else [],
        source=source,
    )


def from_mmpose_dataset_info(raw: Any, source: str = "<dataset_info>") -> DatasetInfo:
    """``DatasetInfo`` from MMPose's ``dataset_info`` dict (``keypoint_info`` keyed by id,
    ``skeleton_info``, ``joint_weights``, ``sigmas``), checked as ``parse_pose_metainfo``
    asserts it."""
    if not isinstance(raw, Mapping):
        raise DataError(f"{source}: 'dataset_info' must be a dict")
    for key in ("dataset_name", "keypoint_info", "skeleton_info", "joint_weights", "sigmas"):
        if key not in raw:
            raise DataError(f"{source}: dataset_info has no {key!r}")
    info, skeleton = raw["keypoint_info"], raw["skeleton_info"]
    if not isinstance(info, Mapping) or not isinstance(skeleton, Mapping):
        raise DataError(f"{source}: keypoint_info and skeleton_info must be dicts keyed by id")
    if list(info) != list(range(len(info))):
        raise DataError(f"{source}: keypoint_info ids must be 0, 1, ... in order")
    return _build(
        name=raw["dataset_name"],
        keypoints=list(info.values()),
        links=list(skeleton.values()),
        weights=raw["joint_weights"],
        sigmas=raw["sigmas"],
        source=source,
    )


def _build(*, name, keypoints, links, weights, sigmas, source) -> DatasetInfo:
    def fail(where: str, message: str):
        raise DataError(f"{source}: {where}: {message}")

    if not isinstance(name, str) or not name:
        fail("name", f"expected a non-empty string, got {name!r}")
    if len(keypoints) > MAX_KEYPOINTS:
        fail("keypoints", f"{len(keypoints)} keypoints, more than {MAX_KEYPOINTS}")
    names = []
    for i, row in enumerate(keypoints):
        kpt = row.get("name") if isinstance(row, Mapping) else None
        if not isinstance(kpt, str) or not kpt:
            fail(f"keypoint {i}", f"'name' must be a non-empty string, got {kpt!r}")
        if kpt in names:
            fail(f"keypoint {i}", f"name {kpt!r} is also keypoint {names.index(kpt)}")
        names.append(kpt)
    index = {kpt: i for i, kpt in enumerate(names)}
    flip, types, colors = [], [], []
    for i, row in enumerate(keypoints):
        swap = row.get("swap", "") or ""
        if swap not in ("", names[i]) and swap not in index:
            fail(f"keypoint {i} ({names[i]})", f"swap partner {swap!r} is not a keypoint name")
        flip.append(index[swap] if swap else i)  # '' or itself: its own mirror, as in MMPose
        kind = row.get("type", "") or ""
        if kind not in ("upper", "lower", ""):
            fail(f"keypoint {i} ({names[i]})", f"type must be upper, lower or '', got {kind!r}")
        types.append(kind)
        colors.append(_color(row.get("color", DEFAULT_KEYPOINT_COLOR), fail, f"keypoint {i}"))
    for i, j in enumerate(flip):
        if flip[j] != i:
            fail(
                f"keypoint {i} ({names[i]})",
                f"swaps with {names[j]!r}, whose swap is {names[flip[j]]!r}, not {names[i]!r}",
            )
    pairs, link_colors = [], []
    for i, link in enumerate(links):
        ends = link.get("link") if isinstance(link, Mapping) else None
        if (
            not isinstance(ends, list | tuple)
            or len(ends) != 2
            or not all(e in index for e in ends)
        ):
            fail(f"skeleton link {i}", f"'link' must name two keypoints, got {ends!r}")
        pairs.append((index[ends[0]], index[ends[1]]))
        link_colors.append(_color(link.get("color", DEFAULT_LINK_COLOR), fail, f"skeleton {i}"))
    weights = _numbers(weights, len(names), "joint_weights", fail, allow_empty=False)
    sigmas = _numbers(sigmas, len(names), "sigmas", fail, allow_empty=True)
    if any(s <= 0 for s in sigmas):
        fail("sigmas", "OKS sigmas must be > 0")
    return DatasetInfo(
        name=name,
        keypoint_names=tuple(names),
        flip_indices=tuple(flip),
        flip_pairs=tuple((i, j) for i, j in enumerate(flip) if i < j),
        upper_body_ids=tuple(i for i, t in enumerate(types) if t == "upper"),
        lower_body_ids=tuple(i for i, t in enumerate(types) if t == "lower"),
        sigmas=sigmas,
        joint_weights=weights,
        skeleton=tuple(pairs),
        keypoint_colors=tuple(colors),
        skeleton_colors=tuple(link_colors),
        source=str(source),
    )


def _color(value, fail, where) -> Color:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        fail(where, f"a colour is three integers 0..255, got {value!r}")
    return tuple(value)


def _numbers(values, count, key, fail, *, allow_empty) -> tuple[float, ...]:
    if not isinstance(values, list | tuple):
        fail(key, f"expected a list of numbers, got {values!r}")
    if allow_empty and not values:
        return ()
    if len(values) != count:
        fail(key, f"{len(values)} values for {count} keypoints")
    out = []
    for v in values:
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or v != v
            or abs(v) == float("inf")
        ):
            fail(key, f"expected finite numbers, got {v!r}")
        out.append(v)
    return tuple(out)


def to_yaml(info: DatasetInfo, comment: str = "") -> str:
    """``info`` as kpose's YAML (one flow-style row per keypoint and link); ``comment`` goes on
    top as ``#`` lines. ``load_metainfo`` of the text gives ``info`` back."""
    names = info.keypoint_names
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    lines += [f"name: {_scalar(info.name)}", "keypoints:"]
    for i, kpt in enumerate(names):
        swap = names[info.flip_indices[i]] if info.flip_indices[i] != i else ""
        kind = "upper" if i in info.upper_body_ids else "lower" if i in info.lower_body_ids else ""
        row = f"name: {_scalar(kpt)}, swap: {_scalar(swap)}, type: {_scalar(kind)}, "
        row += f"color: {list(info.keypoint_colors[i])}"
        if info.sigmas:
            row += f", sigma: {info.sigmas[i]!r}"
        row += f", weight: {info.joint_weights[i]!r}"
        lines.append(f"  - {{{row}}}")
    lines.append("skeleton:" if info.skeleton else "skeleton: []")
    for (a, b), color in zip(info.skeleton, info.skeleton_colors, strict=True):
        lines.append(
            f"  - {{link: [{_scalar(names[a])}, {_scalar(names[b])}], color: {list(color)}}}"
        )
    return "\n".join(lines) + "\n"


def _scalar(text: str) -> str:
    """A YAML flow scalar for ``text`` (quoted when plain style would change it)."""
    plain = yaml.safe_dump(text, default_flow_style=True, width=1 << 20).strip()
    plain = plain.removesuffix("\n...").removesuffix("...").strip()
    return plain if plain and "," not in plain and "{" not in plain else f'"{text}"'


# --- MMPose dataset_info files: the literal structure, evaluated without running code ---------

MAX_ELEMENTS = 1_000_000  # of a list built by ``[x] * n``


def literal_config(text: str, source: str = "<config>") -> dict[str, Any]:
    """The top-level assignments of a Python config file whose values are literal structure:
    constants, lists, tuples, dicts, ``dict(key=value, ...)``, names assigned earlier in the
    file, subscripts of them, ``+`` and ``*`` of those, unary minus. Nothing is imported or
    run; anything else is a ``DataError`` naming the file and line."""
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as exc:
        raise DataError(f"{source}: line {exc.lineno}: not valid Python: {exc.msg}") from None
    scope: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if (
            not isinstance(node, ast.Assign)
            or len(node.targets) != 1
            or not isinstance(node.targets[0], ast.Name)
        ):
            raise DataError(
                f"{source}: line {node.lineno}: only 'name = <literal structure>' is read "
                f"(found {type(node).__name__})"
            )
        scope[node.targets[0].id] = _evaluate(node.value, scope, source)
    return scope


def _evaluate(node: ast.AST, scope: Mapping[str, Any], source: str) -> Any:
    def ev(n):
        return _evaluate(n, scope, source)

    def fail(message: str):
        raise DataError(f"{source}: line {getattr(node, 'lineno', '?')}: {message}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | int | float | bool | type(None)):
            return node.value
        fail(f"constant {node.value!r} is not read")
    if isinstance(node, ast.List):
        return [ev(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(ev(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            fail("'**' inside a dict is not read")
        return {ev(k): ev(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == "dict") or node.args:
            fail(f"only dict(key=value, ...) calls are read, not {ast.unparse(node)[:60]!r}")
        if any(k.arg is None for k in node.keywords):
            fail("'**' inside dict() is not read")
        return {k.arg: ev(k.value) for k in node.keywords}
    if isinstance(node, ast.Name):
        if node.id not in scope:
            fail(f"name {node.id!r} is not assigned earlier in the file")
        return scope[node.id]
    if isinstance(node, ast.Subscript):
        value, key = ev(node.value), ev(node.slice)
        try:
            return value[key]
        except (KeyError, IndexError, TypeError):
            fail(f"{ast.unparse(node)[:60]!r} does not index anything")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = ev(node.operand)
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("unary minus of a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult):
        left, right = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Mult):
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if (
                isinstance(seq, list | tuple | str)
                and isinstance(n, int)
                and not isinstance(n, bool)
            ):
                if len(seq) * max(n, 0) > MAX_ELEMENTS:
                    fail(f"a sequence of {len(seq) * n} elements is more than {MAX_ELEMENTS}")
                return seq * n
        both = (type(left), type(right))
        if all(t in (int, float) for t in both) or (
            isinstance(node.op, ast.Add) and both[0] is both[1] and both[0] in (list, tuple, str)
        ):
            if isinstance(node.op, ast.Add) and isinstance(left, list | tuple | str):
                if len(left) + len(right) > MAX_ELEMENTS:
                    fail(f"a sequence of more than {MAX_ELEMENTS} elements")
            return left + right if isinstance(node.op, ast.Add) else left * right
        fail(f"{ast.unparse(node)[:60]!r}: + and * of these values are not read")
    fail(f"{type(node).__name__} ({ast.unparse(node)[:60]!r}) is not literal structure")
