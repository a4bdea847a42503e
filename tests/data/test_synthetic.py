"""The synthetic person generator: COCO validity, visibility semantics, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data import synthetic

# The skeleton of COCO's person category (1-based keypoint ids), as in person_keypoints_*.json.
COCO_SKELETON = [
    [16, 14],
    [14, 12],
    [17, 15],
    [15, 13],
    [12, 13],
    [6, 12],
    [7, 13],
    [6, 7],
    [6, 8],
    [7, 9],
    [8, 10],
    [9, 11],
    [2, 3],
    [1, 2],
    [1, 3],
    [2, 4],
    [3, 5],
    [4, 6],
    [5, 7],
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    path = synthetic.generate(out, 12, seed=3)
    return out, json.loads(path.read_text())


def test_coco_fields_and_keypoint_semantics(generated):
    out, data = generated
    assert len(data["images"]) == 12
    (category,) = data["categories"]
    assert category["id"] == 1 and category["name"] == "person"
    assert category["keypoints"] == list(synthetic.KEYPOINT_NAMES)
    assert sorted(map(sorted, category["skeleton"])) == sorted(map(sorted, COCO_SKELETON))
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for im in data["images"]:
        assert (out / "images" / im["file_name"]).is_file()
    assert data["annotations"], "no annotated people"
    for ann in data["annotations"]:
        w, h = sizes[ann["image_id"]]
        kps = np.array(ann["keypoints"]).reshape(17, 3)
        assert set(np.unique(kps[:, 2])) <= {0, 1, 2}
        assert ann["num_keypoints"] == np.count_nonzero(kps[:, 2]) > 0
        unlabeled = kps[:, 2] == 0
        assert np.all(kps[unlabeled, :2] == 0)
        labeled = kps[~unlabeled]
        assert np.all((labeled[:, 0] >= 0) & (labeled[:, 0] <= w - 1))
        assert np.all((labeled[:, 1] >= 0) & (labeled[:, 1] <= h - 1))
        x, y, bw, bh = ann["bbox"]
        assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h and bw > 0 and bh > 0
        assert 0 < ann["area"] <= bw * bh
        visible = kps[kps[:, 2] == 2]
        assert np.all((visible[:, 0] >= x - 1.5) & (visible[:, 0] <= x + bw + 1.5))
        assert np.all((visible[:, 1] >= y - 1.5) & (visible[:, 1] <= y + bh + 1.5))
        assert ann["category_id"] == 1 and ann["iscrowd"] == 0
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])


def test_visibility_follows_the_label_mask():
    counts = {0: 0, 1: 0, 2: 0}
    heights = []
    for i in range(60):
        rng = np.random.default_rng([7, i])
        _, mask, figures = synthetic.render_image(rng)
        by_label = {f.label: f for f in figures}
        for ann, fig in zip(
            synthetic.annotate(mask, figures),
            [f for f in figures if _annotated(mask, f)],
            strict=True,
        ):
            kps = np.array(ann["keypoints"]).reshape(17, 3)
            for (x, y, v), (fx, fy) in zip(kps, fig.keypoints, strict=True):
                counts[int(v)] += 1
                if v == 0:
                    assert not (0 <= fx <= mask.shape[1] - 1 and 0 <= fy <= mask.shape[0] - 1)
                    continue
                owner = mask[int(round(y)), int(round(x))]
                if v == 2:
                    assert owner == fig.label
                else:  # covered by a figure painted later
                    assert owner != fig.label and owner > fig.label and owner in by_label
        for f in figures:
            kp = f.keypoints
            heights.append(np.linalg.norm(kp[15] - kp[0]))
    assert counts[1] > 10 and counts[0] > 10 and counts[2] > 500
    # nose-to-ankle spans most of the 40-400 px figure height
    assert 25 < min(heights) < 80 and 250 < max(heights) < 420


def _annotated(mask, fig) -> bool:
    return bool(synthetic.annotate(mask, [fig]))


def test_deterministic_per_seed(tmp_path):
    a = synthetic.generate(tmp_path / "a", 3, seed=5)
    b = synthetic.generate(tmp_path / "b", 3, seed=5)
    c = synthetic.generate(tmp_path / "c", 3, seed=6)
    assert a.read_text() == b.read_text() != c.read_text()
    for im in json.loads(a.read_text())["images"]:
        assert (tmp_path / "a/images" / im["file_name"]).read_bytes() == (
            tmp_path / "b/images" / im["file_name"]
        ).read_bytes()


def test_left_limbs_are_marked(generated):
    # The left-side stripe makes mirrored figures differ from the unmirrored ones: render the
    # same figure twice, once with left/right keypoints swapped, and compare the pixels.
    rng = np.random.default_rng(0)
    kp = synthetic.sample_pose(rng) * 300 + np.array([192, 192])
    images = []
    for swap in (False, True):
        image = np.zeros((384, 384, 3), np.uint8)
        mask = np.zeros((384, 384), np.uint8)
        pts = kp[list(synthetic._INFO.flip_indices)] if swap else kp
        synthetic.draw_figure(image, mask, 1, pts, 300.0, np.random.default_rng(1))
        images.append(image)
    assert np.mean(images[0] != images[1]) > 0.005


def test_worker_processes_give_the_same_dataset(tmp_path):
    one = synthetic.generate(tmp_path / "one", 402, seed=2, workers=1)
    two = synthetic.generate(tmp_path / "two", 402, seed=2, workers=2)
    assert one.read_text() == two.read_text()
    name = json.loads(one.read_text())["images"][401]["file_name"]
    assert (tmp_path / "one/images" / name).read_bytes() == (
        tmp_path / "two/images" / name
    ).read_bytes()


def test_ensure_synthetic_data_generates_missing_splits_once(tmp_path):
    from pathlib import Path

    from kpose.data.records import read_meta
    from kpose.recipe import load_recipe

    quickstart = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
    recipe = load_recipe(
        quickstart,
        [
            f"data.root={tmp_path}",
            "data.synthetic.train_images=3",
            "data.synthetic.val_images=2",
            "data.synthetic.shards=1",
        ],
    )
    synthetic.ensure_synthetic_data(recipe, progress=False)
    splits = read_meta(tmp_path)["splits"]
    assert {s: splits[s]["images"] for s in splits} == {"train": 3, "val": 2}
    written = (tmp_path / "meta.json").stat().st_mtime_ns
    synthetic.ensure_synthetic_data(recipe, progress=False)  # both splits there: nothing to do
    assert (tmp_path / "meta.json").stat().st_mtime_ns == written
