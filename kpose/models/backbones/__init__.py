"""Backbones, one file per family; ``BACKBONES`` maps the names recipes use to constructors.

Every constructor returns a ``keras.Model`` named ``backbone`` from normalised NHWC images to
the feature map the head reads (multi-stage families: one map per stage), with layers named
after MMPose's state-dict paths. The table names ``module:function`` so that a family is
imported only when a recipe asks for it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable

import keras

from kpose.errors import ModelError

# recipe name -> "<module in kpose.models.backbones>:<constructor>"
BACKBONES: dict[str, str] = {
    **{f"resnet{d}": f"resnet:resnet{d}" for d in ("", 18, 34, 50, 101, 152)},
    **{f"resnetv1d{d}": f"resnet:resnetv1d{d}" for d in ("", 50, 101, 152)},
    **{f"resnext{d}": f"resnext:resnext{d}" for d in ("", 50, 101, 152)},
    **{f"seresnet{d}": f"seresnet:seresnet{d}" for d in ("", 50, 101, 152)},
    **{f"resnest{d}": f"resnest:resnest{d}" for d in ("", 50, 101, 200, 269)},
    **{f"scnet{d}": f"scnet:scnet{d}" for d in ("", 50, 101)},
    "hrnet": "hrnet:hrnet",
    "hrnet_w32": "hrnet:hrnet_w32",
    "hrnet_w48": "hrnet:hrnet_w48",
    "hrnet_small": "hrnet:hrnet_small",
    "hrnetv2": "hrnet:hrnetv2",
    "hrnetv2_w18": "hrnet:hrnetv2_w18",
    "mobilenet_v2": "mobilenet_v2:mobilenet_v2",
    "shufflenet_v1": "shufflenet_v1:shufflenet_v1",
    "shufflenet_v2": "shufflenet_v2:shufflenet_v2",
    "alexnet": "alexnet:alexnet",
    **{f"vgg{d}": f"vgg:vgg{d}" for d in ("", 11, 13, 16, 19)},
    "cpm": "cpm:cpm",
    "mspn": "mspn:mspn",
    "rsn": "rsn:rsn",
    "hourglass": "hourglass:hourglass",
    "hourglass52": "hourglass:hourglass52",
    **{f"vit{v}": f"vit:vit{v}" for v in ("", "_small", "_base", "_large", "_huge")},
    **{f"swin{v}": f"swin:swin{v}" for v in ("", "_t", "_b", "_l")},
    **{f"hrformer{v}": f"hrformer:hrformer{v}" for v in ("", "_small", "_base")},
    "pvt": "pvt:pvt",
    "pvt_s": "pvt:pvt_s",
    "pvtv2_b2": "pvt:pvtv2_b2",
    **{f"cspnext{v}": f"cspnext:cspnext{v}" for v in ("", "_tiny", "_s", "_m", "_l")},
    **{f"litehrnet{v}": f"litehrnet:litehrnet{v}" for v in ("", "_18", "_30")},
    "vipnas_resnet": "vipnas_resnet:vipnas_resnet",
    "vipnas_resnet50": "vipnas_resnet:vipnas_resnet50",
    "vipnas_mbv3": "vipnas_mbv3:vipnas_mbv3",
}


def get_backbone(name: str) -> Callable[..., keras.Model]:
    """The constructor registered as ``name`` in ``BACKBONES``."""
    target = BACKBONES.get(name)
    if target is None:
        raise ModelError(
            f"model.backbone: unknown backbone {name!r}; expected one of {sorted(BACKBONES)}"
        )
    module, function = target.split(":")
    try:
        return getattr(importlib.import_module(f"kpose.models.backbones.{module}"), function)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"model.backbone {name!r}: {target} is not available ({exc})") from exc


def accepted_arguments(constructor: Callable[..., keras.Model]) -> set[str]:
    """The keyword arguments ``constructor`` accepts, following a variant's ``**kwargs`` into
    the constructor it forwards them to (``resnet50(**kwargs)`` -> ``resnet(50, **kwargs)``
    accepts ``resnet``'s arguments but ``depth``, which the variant sets itself)."""
    parameters = inspect.signature(constructor).parameters
    own = {n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return own
    tree = ast.parse(textwrap.dedent(inspect.getsource(constructor)))
    for call in ast.walk(tree):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and any(keyword.arg is None for keyword in call.keywords)  # forwards **kwargs
        ):
            continue
        target = constructor.__globals__.get(call.func.id)
        if not callable(target) or not target.__module__.startswith(__name__):
            continue
        names = list(inspect.signature(target).parameters)
        fixed = set(names[: len(call.args)]) | {k.arg for k in call.keywords if k.arg}
        return own | (accepted_arguments(target) - fixed)
    return own


def import_all_families() -> None:
    """Import every backbone module (and the MSPN head) so that their custom Keras layers are
    registered, as loading a ``.keras`` file needs in a process that built none of them."""
    for module in sorted({target.split(":")[0] for target in BACKBONES.values()}):
        importlib.import_module(f"kpose.models.backbones.{module}")
    importlib.import_module("kpose.models.heads.mspn")
