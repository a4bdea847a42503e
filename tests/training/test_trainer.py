"""The training loop's steps: starting a run from ``train.load_from`` weights or from
``train.backbone_weights`` given as a URL."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kpose.data.metainfo import get_dataset_info
from kpose.models.build import build_heatmap_model
from kpose.recipe import load_recipe
from kpose.training.trainer import TrainingRun, restore_or_initialise

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"


def _run(recipe, write_dir: Path) -> TrainingRun:
    """A run of ``recipe``'s model as ``build_run`` makes it, without counting training data."""
    info = get_dataset_info(recipe.data.dataset)
    model = build_heatmap_model(recipe.model, recipe.codec.input_size, info.num_keypoints)
    optimizer = keras.optimizers.Adam()
    counters = {
        "epoch": tf.Variable(0, dtype=tf.int64),
        "step_in_epoch": tf.Variable(0, dtype=tf.int64),
        "best_metric": tf.Variable(-math.inf, dtype=tf.float64),
    }
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, **counters)
    return TrainingRun(
        recipe=recipe,
        info=info,
        write_dir=write_dir,
        steps_per_epoch=1,
        stages_model=model,
        model=model,
        schedule=None,
        optimizer=optimizer,
        checkpoint=checkpoint,
        manager=tf.train.CheckpointManager(checkpoint, str(write_dir / "checkpoints"), 2),
        **counters,
    )


def test_load_from_reads_a_keras_model(tmp_path, caplog):
    """``train.load_from`` goes through ``kpose.weights.load.load_weights``, so a ``.keras``
    file (as well as ``.pth`` and ``.weights.h5``) starts a new run."""
    base = load_recipe(QUICKSTART)
    info = get_dataset_info(base.data.dataset)
    trained = build_heatmap_model(base.model, base.codec.input_size, info.num_keypoints)
    rng = np.random.default_rng(0)
    trained.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in trained.get_weights()])
    trained.save(tmp_path / "trained.keras")

    recipe = load_recipe(QUICKSTART, [f"train.load_from={tmp_path / 'trained.keras'}"])
    run = _run(recipe, tmp_path / "work")
    caplog.set_level(logging.INFO, logger="kpose")
    restore_or_initialise(run)
    assert f"initialised from {tmp_path / 'trained.keras'}" in caplog.text
    for got, want in zip(run.model.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_backbone_weights_by_url(tmp_path, monkeypatch, caplog):
    """``train.backbone_weights`` may be a URL (here ``file://``, as a mirror on disk): fetched
    into ``$KPOSE_HOME/checkpoints`` and loaded into the backbone only."""
    from kpose.weights.state_dict import model_state_dict
    from tests.weights.torch_files import write_torch_state_dict

    monkeypatch.setenv("KPOSE_HOME", str(tmp_path / "home"))
    base = load_recipe(QUICKSTART)
    info = get_dataset_info(base.data.dataset)
    pretrained = build_heatmap_model(base.model, base.codec.input_size, info.num_keypoints)
    rng = np.random.default_rng(1)
    pretrained.set_weights(
        [rng.normal(size=w.shape).astype(w.dtype) for w in pretrained.get_weights()]
    )
    imagenet = {
        k.removeprefix("backbone."): v
        for k, v in model_state_dict(pretrained).items()
        if k.startswith("backbone.")
    }
    checkpoint = write_torch_state_dict(tmp_path / "imagenet.pth", imagenet, wrap=None)

    url = checkpoint.as_uri()
    run = _run(load_recipe(QUICKSTART, [f"train.backbone_weights={url}"]), tmp_path / "work")
    head_before = model_state_dict(run.model)["head.final_layer.weight"]
    caplog.set_level(logging.INFO, logger="kpose")
    restore_or_initialise(run)
    assert f"backbone initialised from {url}" in caplog.text
    assert (tmp_path / "home" / "checkpoints" / "imagenet.pth").is_file()
    after = model_state_dict(run.model)
    for key, value in imagenet.items():
        np.testing.assert_array_equal(after[f"backbone.{key}"], value)
    np.testing.assert_array_equal(after["head.final_layer.weight"], head_before)


class _Evaluator:
    """An evaluator whose headline metric follows a list (``Evaluator``'s attributes)."""

    def __init__(self, key: str, values: list[float], lower_is_better: bool):
        self.key, self.prefix, self.lower_is_better = key, "test", lower_is_better
        self.values = iter(values)

    def run(self) -> dict[str, float]:
        return {self.key: next(self.values)}


def test_best_weights_follow_the_metric_direction(tmp_path):
    """PCK / AP keep the highest, NME (MMPose's face configs: rule 'less') the lowest."""
    from kpose.training.trainer import validate

    writer = tf.summary.create_noop_writer()
    for lower, values, best in ((False, [0.5, 0.7, 0.6], 0.7), (True, [0.5, 0.3, 0.4], 0.3)):
        run = _run(load_recipe(QUICKSTART), tmp_path / str(lower))
        run.write_dir.mkdir()
        evaluator = _Evaluator("NME" if lower else "PCK", values, lower)
        for epoch in range(3):
            validate(run, evaluator, writer, epoch)
        assert run.best_metric.numpy() == best
        assert (run.write_dir / "best.weights.h5").is_file()
