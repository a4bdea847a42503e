"""Recipes: every shipped recipe parses; overrides apply; errors name file, key and expectation."""

from pathlib import Path

import pytest

from kpose.errors import RecipeError
from kpose.recipe import load_recipe, replace

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_parse(path):
    recipe = load_recipe(path)
    assert recipe.name
    # MMPose's heatmaps are 1/4 of the input, except the 2-deconv heads (1/8, JHMDB's ResNet-50),
    # CPM (1/8) and AlexNet (unpadded pools: 256x192 -> 7x5 features, three deconvs -> 56x40)
    (w, h), (hw, hh) = recipe.codec.input_size, recipe.codec.heatmap_size
    two_deconv_resnet = (
        recipe.model.backbone.startswith("resnet")
        and len(recipe.model.head.deconv_out_channels) == 2
    )
    if recipe.model.backbone == "alexnet":
        assert ((w, h), (hw, hh)) == ((192, 256), (40, 56))
    else:
        stride = 8 if two_deconv_resnet or recipe.model.backbone == "cpm" else 4
        assert (w, h) == (hw * stride, hh * stride)
    if recipe.name != "quickstart":
        assert recipe.mmpose_config.endswith(".py")
        assert recipe.mmpose_config in path.read_text()


def test_mmpose_schedule_mirrored():
    r = load_recipe(Path(__file__).parent.parent / "recipes" / "hrnet_w32_coco.yaml")
    assert (r.train.lr, r.train.warmup_iters, r.train.milestones, r.train.epochs) == (
        5e-4,
        500,
        (170, 200),
        210,
    )
    assert r.train.batch_size == 512 and r.codec.sigma == 2.0
    assert r.data.half_body.prob == 0.3 and r.data.bbox_transform.rotate_factor == 80.0
    mpii = load_recipe(Path(__file__).parent.parent / "recipes" / "hrnet_w48_mpii.yaml")
    assert mpii.data.half_body is None and mpii.data.bbox_transform.shift_prob == 0.0


def test_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: {backbone: resnet50}\ntrain: {epochs: 3}\n")
    r = load_recipe(
        path,
        [
            "train.epochs=5",
            "train.milestones=[1, 2]",
            "data.half_body=null",
            "model.backbone_args.depth=18",
        ],
    )
    assert r.train.epochs == 5 and r.train.milestones == (1, 2)
    assert r.data.half_body is None and r.model.backbone_args["depth"] == 18
    assert replace(r, ["train.lr=0.1"]).train.lr == 0.1
    assert r.name == "r"


def test_base_include(tmp_path):
    (tmp_path / "base.yaml").write_text("train: {epochs: 3, lr: 0.5}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\ntrain: {epochs: 7}\n")
    r = load_recipe(tmp_path / "child.yaml")
    assert (r.train.epochs, r.train.lr) == (7, 0.5)


@pytest.mark.parametrize(
    "text, override, message",
    [
        ("train: {epochs: 3}", "train.epoch=4", "unknown key 'train.epoch'"),
        ("train: {epochs: 3}", "train.epochs=many", "key 'train.epochs': expected an integer"),
        ("codec: {input_size: [1]}", None, "key 'codec.input_size': expected a list of 2"),
        ("trian: {epochs: 3}", None, "unknown key trian"),
        ("data: {half_body: 3}", None, "key 'data.half_body': expected a mapping"),
        ("base: missing.yaml", None, "missing.yaml not found"),
        ("train: {optimizer: sgd}", None, "key 'train.optimizer': expected one of 'adam'"),
        ("model: {head: {type: 3}}", None, "key 'model.head.type': expected one of"),
        ("codec: {sigma: -1}", None, "key 'codec.sigma': expected > 0, got -1.0"),
        ("train: {milestones: [1, -2]}", None, "key 'train.milestones': expected >= 0, got -2"),
        ("eval: {nms_thr: 2}", None, "key 'eval.nms_thr': expected >= 0 and <= 1, got 2.0"),
        ("eval: {nms_mode: soft}", None, "key 'eval.nms_mode': expected one of 'oks_nms'"),
        ("train: {cosine_epochs: [9, 9]}", "train.epochs=3", "key 'train.cosine_epochs'"),
        ("data: {dataset: mpi}", None, "key 'data.dataset': expected one of"),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path, text, override, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path, [override] if override else [])
    assert message in str(err.value)
    assert "bad.yaml" in str(err.value)


def test_missing_file():
    with pytest.raises(RecipeError, match="nope.yaml: recipe file not found"):
        load_recipe("nope.yaml")


def test_udp_warp_follows_the_codec_unless_the_recipe_says():
    recipes = Path(__file__).parent.parent / "recipes"
    assert load_recipe(recipes / "cspnext_m_coco.yaml").use_udp_warp
    assert not load_recipe(recipes / "cspnext_m_mpii.yaml").use_udp_warp  # as MMPose's config
    assert not load_recipe(recipes / "hrnet_w32_coco.yaml").use_udp_warp
    assert load_recipe(recipes / "hrnet_w32_coco.yaml", ["data.udp_warp=true"]).use_udp_warp


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["codec.heatmap_type=combined"], "key 'model.head.channels_per_keypoint': expected 3"),
        (["model.head.channels_per_keypoint=3"], "expected 1 with codec.heatmap_type 'gaussian'"),
        (["model.head.loss=combined_mse"], "key 'model.head.loss': expected 'combined_mse' only"),
        (["eval.flip_mode=udp_combined"], "key 'eval.flip_mode': expected 'heatmap'"),
        (["model.head.type=vis", "model.head.args={sigmoid: false}"], "model.head.args.sigmoid"),
        (["model.head.type=vis", "model.head.args={visibility_loss_weight: -1}"], ">= 0"),
    ],
)
def test_the_head_outputs_rules(overrides, message):
    recipes = Path(__file__).parent.parent / "recipes"
    with pytest.raises(RecipeError, match=message):
        load_recipe(recipes / "hrnet_w32_udp_coco.yaml", overrides)
    with pytest.raises(RecipeError, match="codec.heatmap_type"):
        load_recipe(
            recipes / "hrnet_w32_coco.yaml",
            ["codec.heatmap_type=combined", "model.head.channels_per_keypoint=3"],
        )


def test_flip_mode_follows_the_heatmap_type():
    recipes = Path(__file__).parent.parent / "recipes"
    regress = load_recipe(recipes / "hrnet_w32_udp_regress_coco.yaml")
    assert regress.flip_mode == "udp_combined" and regress.model.head.channels_per_keypoint == 3
    gaussian = ["codec.heatmap_type=gaussian", "model.head.channels_per_keypoint=1"]
    plain = replace(regress, [*gaussian, "model.head.loss=mse", "eval.flip_mode=null"])
    assert plain.flip_mode == "heatmap"
