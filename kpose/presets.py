"""The preset table: preset name -> recipe file and the MMPose config it mirrors.

One explicit table (no registration at import time). ``mmpose_config`` is relative to MMPose's
``configs/body_2d_keypoint/topdown_heatmap/`` folder, as in ``SEED_RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kpose.errors import ModelError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


@dataclass(frozen=True)
class Preset:
    name: str
    recipe: str  # file name under recipes/; the recipe names the MMPose config it mirrors

    @property
    def recipe_path(self) -> Path:
        return RECIPES_DIR / self.recipe

    def load_recipe(self):
        from kpose.recipe import load_recipe

        return load_recipe(self.recipe_path)

    @property
    def mmpose_config(self) -> str:
        return self.load_recipe().mmpose_config


_PRESETS = (
    Preset("quickstart", "quickstart.yaml"),
    Preset("resnet50", "resnet50_coco.yaml"),
    Preset("hrnet-w32", "hrnet_w32_coco.yaml"),
    Preset("hrnet-w48-mpii", "hrnet_w48_mpii.yaml"),
)
PRESETS = {p.name: p for p in _PRESETS}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"unknown preset {name!r}; available: {sorted(PRESETS)}") from None


def names() -> list[str]:
    return sorted(PRESETS)
