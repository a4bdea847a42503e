"""Training on several record sets (``data.train_sets``): the recipe checks of keypoint
mappings and output keypoints, the mapping arithmetic, and the mixed pipeline (every instance
of every set once per pass, sets mixed in proportion to their sizes, reproducible)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kpose.data import pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.keypoint_mapping import keypoint_mapping
from kpose.data.metainfo import get_dataset_info
from kpose.errors import RecipeError
from kpose.presets import RECIPES_DIR
from kpose.recipe import TrainSetConfig, load_recipe

MERGE = RECIPES_DIR / "hrnet_w32_coco_aic_merge.yaml"
COMBINE = RECIPES_DIR / "hrnet_w32_coco_aic_combine.yaml"
AIC_TO_COCO = [[0, 6], [1, 8], [2, 10], [3, 5], [4, 7], [5, 9], [6, 12], [7, 14], [8, 16]]


@pytest.fixture(scope="module")
def roots(samples, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sets")
    for name in ("coco", "aic"):
        ann = samples / name / f"test_{name}.json"
        convert_coco(
            ann, samples / name, tmp / name, split="train", dataset=name, shards=2, progress=False
        )
    return {name: str(tmp / name) for name in ("coco", "aic")}


def _sets(roots, *sets) -> list[str]:
    """A ``data.train_sets=...`` override of (name, mapping, repeat) triples."""
    items = [
        f"{{root: {roots[name]}, split: train, keypoint_mapping: {mapping}, repeat: {repeat}}}"
        for name, mapping, repeat in sets
    ]
    return [f"data.train_sets=[{', '.join(items)}]"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("[[0, 6], [1, 17]]", r"train_sets\[0\].keypoint_mapping'.*item 1: target 17 is not an"),
        ("[[0, 6], [1, 6]]", r"item 1: target 6 is also the target of item 0"),
        ("[[-1, 6]]", r"item 0: the source must be a keypoint index or a pair"),
        ("[[[0, 1, 2], 6]]", r"item 0: the source must be a keypoint index or a pair"),
        ("[[0, 6, 1]]", r"item 0: expected \[source, target\]"),
    ],
)
def test_bad_mappings_name_the_field(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(MERGE, [f"data.train_sets=[{{root: b, keypoint_mapping: {override}}}]"])


def test_output_keypoint_indices_are_checked_against_both_keypoint_sets():
    with pytest.raises(RecipeError, match="'eval.output_keypoint_indices': the model predicts 19"):
        load_recipe(COMBINE, ["eval.output_keypoint_indices=null"])
    with pytest.raises(RecipeError, match="expected 17 indices .* below 19"):
        load_recipe(COMBINE, ["eval.output_keypoint_indices=[0, 1, 2]"])
    with pytest.raises(RecipeError, match="expected 17 indices .* below 19"):
        load_recipe(COMBINE, [f"eval.output_keypoint_indices={list(range(16)) + [19]}"])
    with pytest.raises(RecipeError, match="key 'model.metainfo'"):
        load_recipe(COMBINE, ["model.metainfo=no_such_file.yaml"])
    recipe = load_recipe(COMBINE)
    assert recipe.model_info.name == "coco_aic" and recipe.dataset_info.name == "coco"
    assert recipe.model_info.keypoint_names[:17] == recipe.dataset_info.keypoint_names


def test_mapping_arithmetic():
    """Copies, pair midpoints (visible where both are), unmapped targets zero and invisible;
    with a pair present every target takes the interpolation arithmetic (MMPose's)."""
    kpts = np.arange(2 * 4 * 2, dtype=np.float32).reshape(2, 4, 2)
    vis = np.array([[1, 0, 1, 1], [1, 1, 0, 1]], np.float32)
    plain = keypoint_mapping((((2, 2), 0), ((0, 0), 2)), 3)
    out_k, out_v = (np.asarray(t) for t in plain.apply(kpts, vis))
    np.testing.assert_array_equal(out_k[:, 0], kpts[:, 2])
    np.testing.assert_array_equal(out_k[:, 2], kpts[:, 0])
    np.testing.assert_array_equal(out_k[:, 1], 0)
    np.testing.assert_array_equal(out_v, [[1, 0, 1], [0, 0, 1]])
    pairs = keypoint_mapping((((0, 1), 0), ((3, 3), 1)), 2)
    out_k, out_v = (np.asarray(t) for t in pairs.apply(kpts, vis))
    np.testing.assert_array_equal(out_k[:, 0], 0.5 * (kpts[:, 0] + kpts[:, 1]))
    np.testing.assert_array_equal(out_k[:, 1], kpts[:, 3])
    np.testing.assert_array_equal(out_v, [[0, 1], [1, 1]])
    assert pairs.num_sources_needed == 4 and keypoint_mapping((), 3) is None


def test_records_that_do_not_fit_the_mapping_or_the_model_are_recipe_errors(roots):
    info = get_dataset_info("coco")
    too_far = TrainSetConfig(roots["aic"], "train", (((14, 14), 0),))
    out_of_range = (
        r"data.train_sets\[1\].keypoint_mapping: source index 14 is out of range: the records "
        r"in .* hold the 14 keypoints of 'aic'"
    )
    with pytest.raises(RecipeError, match=out_of_range):
        pipeline.train_set_instances(too_far, info, where="data.train_sets[1]")
    unmapped = r"data.train_sets\[0\]: .* hold 14 keypoints .* give the set a keypoint_mapping"
    with pytest.raises(RecipeError, match=unmapped):
        pipeline.train_set_instances(TrainSetConfig(roots["aic"], "train"), info)


def _key(element) -> tuple:
    return (float(element["width"]), *np.round(element["bbox"], 3).tolist())


def test_mixed_pass_reads_every_instance_of_every_set_once(roots):
    recipe = load_recipe(MERGE, _sets(roots, ("coco", [], 1), ("aic", AIC_TO_COCO, 2)))
    info, data = recipe.model_info, recipe.data
    per_set = [
        [_key(e) for e in pipeline.train_set_instances(s, info).as_numpy_iterator()]
        for s in data.train_record_sets
    ]
    n_coco, n_aic = len(per_set[0]), len(per_set[1])
    assert n_aic == 2 * len(set(per_set[1])) and n_coco > 0  # repeat: 2
    assert pipeline.count_training_instances(data) == n_coco + n_aic

    mixed = pipeline.mixed_train_instances(data, info, seed=7)
    first = list(mixed.as_numpy_iterator())
    assert Counter(_key(e) for e in first) == Counter(per_set[0] + per_set[1])
    assert all(e["keypoints"].shape == (17, 2) for e in first)
    assert [_key(e) for e in mixed.as_numpy_iterator()] == [_key(e) for e in first]  # seeded
    # mixed, not concatenated: both sets in the first half of the pass
    from_coco = [k in set(per_set[0]) for k in map(_key, first)]
    assert 0 < sum(from_coco[: len(first) // 2]) < len(first) // 2
