"""Every preset's checkpoint URL and published accuracy against MMPose 1.3.2's metafiles (the
``*.yml`` beside the configs: ``Weights:`` and ``Results:`` of the entry whose ``Config:`` is
the preset's), and every recipe's start weights against its config: ``train.backbone_weights``
(+ prefix) is the backbone's ``init_cfg=Pretrained`` checkpoint with ``torchvision://`` and
``mmcls://`` resolved through mmengine's tables, ``train.load_from`` the config's ``load_from``.
"""

from __future__ import annotations

import json
import re

import pytest

import kpose
from kpose.recipe import load_recipe

pytestmark = [pytest.mark.parity]

_METAFILES = """
import glob, yaml
import mmengine
entries = {}
# every tree's top-down heatmap metafiles (body, animal, ...), keyed by the config's path in
# configs/; the metafile's tree, as some Config: entries name 0.x folders (configs/body/2d_kpt_...)
for path in sorted(glob.glob(os.path.join(MMPOSE_CONFIGS, "*", "topdown_heatmap", "*", "*.yml"))):
    tree = os.path.relpath(path, MMPOSE_CONFIGS).split(os.sep)[0]
    for model in yaml.safe_load(open(path)).get("Models", []):
        config = f"{tree}/topdown_heatmap/" + model["Config"].split("topdown_heatmap/", 1)[1]
        entries.setdefault(config, []).append(
            {"weights": model.get("Weights", ""), "results": model.get("Results", [])}
        )
outputs["entries"] = entries

from mmengine.config import Config
hub = os.path.join(os.path.dirname(mmengine.__file__), "hub")
tables = {
    "torchvision://": json.load(open(os.path.join(hub, "torchvision_0.12.json"))),
    "mmcls://": json.load(open(os.path.join(hub, "mmcls.json"))),
    "open-mmlab://": json.load(open(os.path.join(hub, "openmmlab.json"))),
}
starts = {}
for config in json.loads(str(inputs["configs"])):
    cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, config))
    init = cfg.model.backbone.get("init_cfg") or {}
    url, prefix = "", ""
    if init.get("type") == "Pretrained":
        url, prefix = init["checkpoint"], init.get("prefix") or ""
        for scheme, table in tables.items():
            if url.startswith(scheme):
                url = table[url[len(scheme):]]
                if scheme == "mmcls://":  # mmengine keeps the keys under backbone., stripped
                    prefix = "backbone."
    starts[config] = {"url": url, "prefix": prefix, "load_from": cfg.get("load_from") or ""}
outputs["starts"] = starts
"""

# MMPose's README and metafile disagree on these checkpoints' accuracy; the presets quote the
# README. name -> what the metafile says.
README_NOT_METAFILE = {
    "hrnet-w32": [0.746, 0.799],
    "hrnet-w48": [0.756, 0.806],
    # the UBody2d entry repeats the numbers of the COCO-WholeBody-trained HRNet-W32
    "hrnet-w32-ubody2d": [0.536, 0.636],
}
# Recipes that deliberately differ from their config's start: MMPose 1.3.2's Swin loads nothing
# from its configured checkpoint (swin_converter prefixes "backbone."), so those recipes start
# from random init as MMPose does.
NO_BACKBONE_START = {
    "swin_t_coco.yaml",
    "swin_b_coco.yaml",
    "swin_l_coco.yaml",
    "swin_b_coco_384x288.yaml",
    "swin_l_coco_384x288.yaml",
}
# Metafile ``Weights:`` with a typo in front of the URL (the presets use the README's URL):
# name -> the metafile's stray prefix.
METAFILE_WEIGHTS_PREFIX = {"vipnas-mbv3": "("}
# Presets whose config's metafile entry links another preset's checkpoint (so kpose lists no
# weights for them): the 384x288 ResNet-101 entry names the 256x192 config's file.
OTHER_CONFIGS_CHECKPOINT = {"resnet101-384x288": "resnet101"}
# Presets whose checkpoint and accuracy MMPose publishes in a README table only, no metafile
# entry having the config: the visibility head's (body_2d_keypoint/.../coco/resnet_coco.md).
README_ONLY = {"resnet50-vis-coco-aic-merge"}


# The face datasets' NME subsets each preset quotes, in its order.
FACE_NME_ORDER = {
    "300w": ["NME full", "NME common", "NME challenge", "NME test"],
    "300wlp": ["NME full"],
    "aflw": ["NME full", "NME frontal"],
    "wflw": ["NME test"],
    "cofw": ["NME"],
    "coco_wholebody_face": ["NME"],
}


@pytest.fixture(scope="module")
def metafiles(mmpose_ref):
    recipes = sorted(kpose.presets.RECIPES_DIR.glob("*.yaml"))
    configs = sorted({r.mmpose_config for r in map(load_recipe, recipes) if r.mmpose_config})
    return mmpose_ref(_METAFILES, configs=json.dumps(configs))


def metafile_numbers(dataset: str, entries: list[dict]) -> list[float]:
    """The numbers a preset's ``published`` quotes, in its order, from the metafile entries of
    its config (which repeat a config for each table of MMPose's README it appears in)."""
    results = entries[0]["results"]
    metrics = results[0]["Metrics"]
    if dataset == "mpii":
        return [metrics["Mean"], metrics["Mean@0.1"]]
    if dataset == "jhmdb":  # normalised by person size, then by torso size
        return [
            entries[0]["results"][0]["Metrics"]["Mean"],
            entries[1]["results"][0]["Metrics"]["Mean"],
        ]
    if dataset == "posetrack18":  # GT boxes first
        return [metrics["Total"]]
    if dataset == "humanart":
        by_set = {r["Dataset"]: r["Metrics"] for r in results}
        return [by_set["Human-Art"]["AP"], by_set["Human-Art"]["AR"], by_set["Human-Art(GT)"]["AP"]]
    if dataset in ("locust", "zebra"):
        return [metrics["PCK@0.2"], metrics["AUC"], metrics["EPE"]]
    if dataset == "ak":
        return [metrics["PCK"]]
    if dataset in ("onehand10k", "rhd2d", "freihand2d", "coco_wholebody_hand"):
        # one metafile entry (udp rhd2d) labels its PCK@0.2 "PCKh@0.7"
        pck = metrics.get("PCK@0.2", metrics.get("PCKh@0.7"))
        return [pck, metrics["AUC"], metrics["EPE"]]
    if dataset in FACE_NME_ORDER:  # NME per subset, in the order the preset quotes them
        return [metrics[key] for key in FACE_NME_ORDER[dataset]]
    if dataset in ("coco_wholebody", "ubody2d"):  # the whole body's, of the per-part table
        return [metrics["Whole AP"], metrics["Whole AR"]]
    # CrowdPose and AP-10K: no AR
    return [metrics["AP"]] + ([metrics["AR"]] if "AR" in metrics else [])


@pytest.mark.parametrize("name", [n for n in kpose.list_presets() if n != "quickstart"])
def test_preset_weights_and_accuracy_are_the_metafiles(metafiles, name):
    preset = kpose.presets.get(name)
    recipe = preset.load_recipe()
    entries = metafiles["entries"].get(recipe.mmpose_config)
    if preset.published == kpose.presets.NO_CHECKPOINT:  # and MMPose lists none either
        assert not preset.weights, name
        if name in OTHER_CONFIGS_CHECKPOINT:
            other = kpose.presets.get(OTHER_CONFIGS_CHECKPOINT[name]).weights
            assert {e["weights"] for e in entries} == {other}, (name, entries)
        else:
            assert not entries, (name, entries)
        return
    if name in README_ONLY:  # MMPose names its checkpoints <config stem>-<sha256[:8]>_<date>
        assert not entries, (name, entries)
        stem = recipe.mmpose_config.rsplit("/", 1)[-1].removesuffix(".py")
        assert re.fullmatch(
            re.escape(stem) + r"-[0-9a-f]{8}_\d{8}\.pth", preset.weights.split("/")[-1]
        )
        return
    assert entries, f"{name}: no metafile entry has Config {recipe.mmpose_config}"
    metafile_url = METAFILE_WEIGHTS_PREFIX.get(name, "") + preset.weights
    assert {e["weights"] for e in entries} == {metafile_url}
    theirs = metafile_numbers(recipe.data.dataset, entries)
    ours = [float(x) for x in re.findall(r"\d+\.\d+", preset.published)]
    if name in README_NOT_METAFILE:
        assert theirs == README_NOT_METAFILE[name]
        return
    assert len(ours) >= len(theirs), (preset.published, theirs)
    assert ours[: len(theirs)] == pytest.approx(theirs, abs=5e-4), (preset.published, theirs)


@pytest.mark.parametrize(
    "path", sorted(kpose.presets.RECIPES_DIR.glob("*.yaml")), ids=lambda p: p.name
)
def test_recipe_starts_as_its_config(metafiles, path):
    recipe = load_recipe(path)
    if not recipe.mmpose_config:
        pytest.skip("not an MMPose config")
    start = metafiles["starts"][recipe.mmpose_config]
    train = recipe.train
    if path.name in NO_BACKBONE_START:
        assert start["url"] and not train.backbone_weights
    else:
        assert (train.backbone_weights, train.backbone_weights_prefix) == (
            start["url"],
            start["prefix"],
        )
    assert train.load_from == start["load_from"]
