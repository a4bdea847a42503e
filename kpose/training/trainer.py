"""The training loop: one distributed loop for every strategy, readable top to bottom.

Keras' ``Model.fit`` fails under MultiWorkerMirroredStrategy, so kpose owns the loop:
``strategy.run`` of a replica step over a distributed dataset. ``fit`` prepares the work dir,
builds the run (model, schedule, optimizer), restores or initialises it, then trains epoch by
epoch. The replica step warps the coarse crops, transforms keypoints and encodes heatmaps on the
replica's device (``kpose.data.augment``), runs the model and applies MMPose's KeypointMSELoss.
Checkpoints (``tf.train.CheckpointManager``) hold the model, the optimizer, the epoch and the
step within the epoch; the input pipeline is reproducible per epoch, so a resumed run skips
exactly the batches it already trained on. Validation runs every ``train.val_interval`` epochs
and at the end; the best weights by the metric are kept as ``best.weights.h5``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf
from tqdm import tqdm

from kpose.codecs import make_codec, make_training_codecs
from kpose.data import augment, pipeline
from kpose.data.metainfo import DatasetInfo
from kpose.data.synthetic import ensure_synthetic_data
from kpose.devices import use_xla
from kpose.errors import ModelError, RecipeError
from kpose.evaluation.evaluator import Evaluator
from kpose.models.backbones import BACKBONES
from kpose.models.build import build_heatmap_model, prediction_model
from kpose.models.freeze import freeze_stages, set_norm_eval
from kpose.presets import PRESETS
from kpose.recipe import Recipe, TrainConfig, to_dict
from kpose.training.losses import StageLoss, stage_losses
from kpose.training.optimizers import (
    PYTORCH_ADAM_EPSILON,
    GroupedAdamW,
    layer_decay_groups,
    no_decay_groups,
)
from kpose.training.schedules import WarmupMultiStep
from kpose.visualize import plot_history
from kpose.weights.load import (
    checkpoint_converter,
    find_weights,
    load_backbone_weights,
    load_weights,
)

log = logging.getLogger(__name__)


def default_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers, else Mirrored (local GPUs, or
    the CPU as one replica)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    workers = tf_config.get("cluster", {}).get("worker", [])
    if len(workers) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def make_optimizer(cfg: TrainConfig, schedule, model: keras.Model) -> keras.optimizers.Optimizer:
    """MMPose's optimizer of the recipe: Adam, or AdamW (PyTorch's decoupled weight decay) with
    ViTPose's layer-wise learning-rate decay when ``layer_decay_rate`` is set; gradients
    clipped to ``clip_grad_norm`` (global L2 norm) when set. Adam's epsilon is PyTorch's."""
    clip = cfg.clip_grad_norm or None
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(
            learning_rate=schedule, epsilon=PYTORCH_ADAM_EPSILON, global_clipnorm=clip
        )
    if cfg.optimizer == "adamw":
        groups = {}
        if cfg.layer_decay_rate:
            if cfg.layer_decay_num_layers <= 0:
                raise RecipeError(
                    "key 'train.layer_decay_num_layers': expected the backbone's number of "
                    "transformer layers with train.layer_decay_rate, got "
                    f"{cfg.layer_decay_num_layers}"
                )
            groups = layer_decay_groups(model, cfg.layer_decay_num_layers, cfg.layer_decay_rate)
        elif cfg.no_decay_keys:
            groups = no_decay_groups(model, cfg.no_decay_keys)
        return GroupedAdamW(
            schedule, weight_decay=cfg.weight_decay, groups=groups, global_clipnorm=clip
        )
    raise RecipeError(f"key 'train.optimizer': expected 'adam' or 'adamw', got {cfg.optimizer!r}")


def is_local(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` runs on this machine alone (no multi-worker cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or not resolver.cluster_spec().as_dict()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this worker keeps the run's files (always, unless multi-worker)."""
    if is_local(strategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


@dataclass
class TrainingRun:
    """Everything one run trains and checkpoints.

    ``model`` (the last stage: what is evaluated and saved) shares its layers with
    ``stages_model``, which has one output per supervised stage (CPM, MSPN, ...). ``checkpoint``
    holds the model, the optimizer, ``epoch``, ``step_in_epoch`` and ``best_metric``;
    ``manager`` keeps its last two saves in ``write_dir / "checkpoints"``.
    """

    recipe: Recipe
    info: DatasetInfo
    write_dir: Path
    steps_per_epoch: int
    stages_model: keras.Model
    model: keras.Model
    schedule: WarmupMultiStep
    optimizer: keras.optimizers.Optimizer
    epoch: tf.Variable
    step_in_epoch: tf.Variable
    best_metric: tf.Variable
    checkpoint: tf.train.Checkpoint
    manager: tf.train.CheckpointManager


def fit(
    recipe: Recipe, *, strategy: tf.distribute.Strategy | None = None, progress: bool = True
) -> dict:
    """Train ``recipe`` in ``train.work_dir``, resuming from its last checkpoint if there is one;
    returns the last validation metrics and the best headline metric (``"best"``).

    A recipe with a ``data.synthetic`` section (the quickstart) first generates the synthetic
    splits its ``data.root`` lacks.
    """
    ensure_synthetic_data(recipe, progress=progress)
    strategy = strategy or default_strategy()
    cfg = recipe.train
    chief = is_chief(strategy)
    info = recipe.model_info  # the heatmaps' keypoints: training targets, augmentation
    write_dir = prepare_work_dir(recipe, chief)
    run = build_run(recipe, info, strategy, write_dir)
    restore_or_initialise(run)
    train_step = recipe_train_step(run, strategy)
    writer = tf.summary.create_file_writer(str(write_dir / "logs"))
    evaluator = (
        Evaluator(recipe, run.model, make_codec(recipe), recipe.dataset_info, progress=progress)
        if chief
        else None
    )
    metrics: dict = {}
    start_epoch = int(run.epoch.numpy())
    for epoch in range(start_epoch, cfg.epochs):
        done = int(run.step_in_epoch.numpy()) if epoch == start_epoch else 0
        loss = train_epoch(run, strategy, train_step, writer, epoch, done, progress)
        run.epoch.assign(epoch + 1)
        run.step_in_epoch.assign(0)
        last = epoch + 1 == cfg.epochs
        if evaluator is not None and ((epoch + 1) % cfg.val_interval == 0 or last):
            metrics = validate(run, evaluator, writer, epoch)
        if chief:
            append_history(write_dir / "history.jsonl", epoch + 1, loss, metrics)
            plot_history(write_dir / "history.jsonl", write_dir / "curves.png")
        run.model.save_weights(str(write_dir / "last.weights.h5"))
        run.manager.save(checkpoint_number=int(run.optimizer.iterations.numpy()))
    writer.flush()
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
    return {**metrics, "best": float(run.best_metric.numpy())}


def recipe_train_step(run: TrainingRun, strategy: tf.distribute.Strategy):
    """``make_train_step`` as ``run``'s recipe says: its training codecs, stage losses, pixel
    transforms and global batch, compiled as ``kpose.devices`` chooses (the step ``fit``
    trains with)."""
    recipe = run.recipe
    return make_train_step(
        strategy,
        run.stages_model,
        run.optimizer,
        make_training_codecs(recipe),
        tuple(recipe.codec.input_size),
        recipe.train.batch_size,
        jit_compile=use_xla("train_step", recipe.train.jit_compile),
        jit_augment=use_xla("augment"),
        losses=stage_losses(recipe.model.head, len(run.stages_model.outputs)),
        pixel_transforms=recipe.data.pixel_transforms,
    )


def recipe_train_dataset(
    recipe: Recipe,
    info: DatasetInfo,
    batch_size: int,
    epoch: int,
    *,
    skip_batches: int = 0,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """``pipeline.train_dataset`` of ``recipe``'s training records for ``epoch`` (seeded with
    ``train.seed``), batches of ``batch_size``, keypoints as ``info``'s."""
    return pipeline.train_dataset(
        recipe.data.root,
        recipe.data.train_split,
        recipe.data,
        info,
        tuple(recipe.codec.input_size),
        batch_size,
        seed=recipe.train.seed,
        epoch=epoch,
        skip_batches=skip_batches,
        input_context=input_context,
        use_udp=recipe.use_udp_warp,
    )


def prepare_work_dir(recipe: Recipe, chief: bool) -> Path:
    """The directory this worker writes to: ``train.work_dir`` (with the recipe as
    ``recipe.json``) on the chief; under MultiWorkerMirroredStrategy every worker saves, so the
    others write to a temporary directory that ``fit`` removes."""
    work_dir = Path(recipe.train.work_dir)
    write_dir = work_dir if chief else Path(tempfile.mkdtemp(prefix="kpose-worker-"))
    write_dir.mkdir(parents=True, exist_ok=True)
    if chief:
        (work_dir / "recipe.json").write_text(json.dumps(to_dict(recipe), indent=2))
    return write_dir


def build_run(
    recipe: Recipe, info: DatasetInfo, strategy: tf.distribute.Strategy, write_dir: Path
) -> TrainingRun:
    """The model, learning-rate schedule, optimizer, checkpoint counters and checkpoint manager
    of ``recipe``, built in ``strategy``'s scope (seeded with ``train.seed``; the learning rate
    scaled by ``batch_size / base_batch_size`` with ``train.scale_lr``)."""
    cfg = recipe.train
    num_instances = pipeline.count_training_instances(recipe.data)
    steps_per_epoch = cfg.steps_per_epoch or max(1, num_instances // cfg.batch_size)
    lr = cfg.lr * (cfg.batch_size / cfg.base_batch_size if cfg.scale_lr else 1.0)
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        # the policy only matters while layers are made: set it for the build, then restore it
        policy = keras.mixed_precision.global_policy()
        if cfg.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            stages_model = build_heatmap_model(
                recipe.model, tuple(recipe.codec.input_size), info.num_keypoints, all_stages=True
            )
        finally:
            keras.mixed_precision.set_global_policy(policy)
        model = prediction_model(stages_model)  # the last heatmaps (+ visibility)
        if cfg.frozen_stages >= 0:
            family = BACKBONES.get(recipe.model.backbone, "").split(":")[0]
            frozen = freeze_stages(model, family, cfg.frozen_stages)
            log.info("frozen_stages %d: %d layers frozen", cfg.frozen_stages, len(frozen))
        if cfg.norm_eval:
            log.info(
                "norm_eval: %d backbone BatchNorm layers in inference mode", set_norm_eval(model)
            )
        schedule = WarmupMultiStep(
            lr,
            steps_per_epoch,
            cfg.milestones,
            cfg.gamma,
            cfg.warmup_iters,
            cfg.warmup_start_factor,
            cfg.cosine_epochs,
            cfg.cosine_min_factor,
        )
        optimizer = make_optimizer(cfg, schedule, model)
        if cfg.mixed_precision:
            # dynamic loss scale as MMPose's AmpOptimWrapper(loss_scale='dynamic'), i.e. torch's
            # GradScaler defaults: start at 2**16, halve on overflow, double after 2000 steps
            optimizer = keras.optimizers.LossScaleOptimizer(
                optimizer, initial_scale=2.0**16, dynamic_growth_steps=2000
            )
        # The optimizer's slots must exist, created in the scope, before the step is traced.
        optimizer.build(model.trainable_variables)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        best_metric = tf.Variable(-math.inf, dtype=tf.float64, trainable=False, name="best_metric")
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        epoch=epoch,
        step_in_epoch=step_in_epoch,
        best_metric=best_metric,
    )
    return TrainingRun(
        recipe=recipe,
        info=info,
        write_dir=write_dir,
        steps_per_epoch=steps_per_epoch,
        stages_model=stages_model,
        model=model,
        schedule=schedule,
        optimizer=optimizer,
        epoch=epoch,
        step_in_epoch=step_in_epoch,
        best_metric=best_metric,
        checkpoint=checkpoint,
        manager=tf.train.CheckpointManager(
            checkpoint, str(write_dir / "checkpoints"), max_to_keep=2
        ),
    )


def restore_or_initialise(run: TrainingRun) -> None:
    """Resume from the last checkpoint in the work dir; without one, start from
    ``train.load_from`` (MMPose's load_from: trained weights, not a resume) or
    ``train.backbone_weights`` (MMPose's backbone ``init_cfg=Pretrained``, converted as MMPose
    converts that backbone's checkpoints), if set. Both may be paths or URLs (downloaded once
    into ``$KPOSE_HOME/checkpoints``, ``kpose.weights.download``)."""
    cfg = run.recipe.train
    if run.manager.latest_checkpoint:
        run.checkpoint.restore(run.manager.latest_checkpoint).expect_partial()
        log.info(
            "resumed from %s: epoch %d, step %d",
            run.manager.latest_checkpoint,
            int(run.epoch.numpy()) + 1,
            int(run.step_in_epoch.numpy()),
        )
    elif cfg.load_from:
        source = cfg.load_from
        if source in PRESETS:  # a preset's weights, found as kpose.load finds them
            source = str(find_weights(source) or PRESETS[source].weights)
        result = load_weights(run.model, source, strict=cfg.load_strict)
        log.info("initialised from %s%s", cfg.load_from, f": {result.summary()}" if result else "")
    elif cfg.backbone_weights:
        result = load_backbone_weights(
            run.model,
            cfg.backbone_weights,
            cfg.backbone_weights_prefix,
            convert=checkpoint_converter(run.recipe.model.backbone),
        )
        log.info(
            "backbone initialised from %s (%d backbone tensors not in it, %d of its tensors "
            "unused)",
            cfg.backbone_weights,
            len(result.missing_keys),
            len(result.unexpected_keys),
        )


def train_epoch(
    run: TrainingRun,
    strategy: tf.distribute.Strategy,
    train_step,
    writer,
    epoch: int,
    done: int,
    progress: bool,
) -> float | None:
    """Train epoch ``epoch`` from step ``done`` (a resumed epoch skips the batches it already
    trained on); logs the running loss, learning rate and throughput every ``train.log_every``
    steps, checkpoints every ``train.checkpoint_interval`` steps. Returns the running loss
    (None when no step was left)."""
    recipe, cfg = run.recipe, run.recipe.train

    def dataset_fn(ctx):
        return recipe_train_dataset(
            recipe,
            run.info,
            ctx.get_per_replica_batch_size(cfg.batch_size),
            epoch,
            # each input pipeline feeds num_replicas / num_pipelines replicas per step
            skip_batches=done * (ctx.num_replicas_in_sync // ctx.num_input_pipelines),
            input_context=ctx,
        )

    if strategy.num_replicas_in_sync == 1 and is_local(strategy):
        # One replica: the plain iterator. A distributed iterator yields the same batches but
        # more than doubles a CPU step (quickstart, batch 32: 0.94 s -> 0.42 s per step).
        iterator = iter(dataset_fn(tf.distribute.InputContext()))
    else:
        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    bar = tqdm(
        total=run.steps_per_epoch,
        initial=done,
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    t0, seen, running = time.perf_counter(), 0, None
    for step in range(done, run.steps_per_epoch):
        loss = float(train_step(iterator))
        seen += cfg.batch_size
        running = loss if running is None else 0.9 * running + 0.1 * loss
        run.step_in_epoch.assign(step + 1)
        it = int(run.optimizer.iterations.numpy())
        if (step + 1) % cfg.log_every == 0 or step + 1 == run.steps_per_epoch:
            rate = seen / (time.perf_counter() - t0)
            lr_now = float(run.schedule(it))
            bar.set_postfix(loss=f"{running:.3g}", lr=f"{lr_now:.2e}", samples_s=f"{rate:.1f}")
            with writer.as_default(step=it):
                tf.summary.scalar("train/loss", running)
                tf.summary.scalar("train/lr", lr_now)
                tf.summary.scalar("train/samples_per_second", rate)
        if cfg.checkpoint_interval and (step + 1) % cfg.checkpoint_interval == 0:
            run.manager.save(checkpoint_number=it)
        bar.update(1)
    bar.close()
    return running


def validate(run: TrainingRun, evaluator: Evaluator, writer, epoch: int) -> dict:
    """Score the model on the val split, log the metrics, and keep the weights as
    ``best.weights.h5`` when the headline metric beats the best so far (is lower, for the
    metrics in ``LOWER_IS_BETTER`` such as NME)."""
    metrics = evaluator.run()
    key = evaluator.key
    best = float(run.best_metric.numpy())  # -inf until the first validation
    lower = evaluator.lower_is_better
    with writer.as_default(step=int(run.optimizer.iterations.numpy())):
        for name, value in metrics.items():
            tf.summary.scalar(f"val/{name}", value)
    if best == -math.inf or (metrics[key] < best if lower else metrics[key] > best):
        run.best_metric.assign(metrics[key])
        run.model.save_weights(str(run.write_dir / "best.weights.h5"))
    log.info(
        "epoch %d: %s/%s %.4f (best %.4f)",
        epoch + 1,
        evaluator.prefix,
        key,
        metrics[key],
        run.best_metric.numpy(),
    )
    return metrics


def make_train_step(
    strategy,
    model,
    optimizer,
    codec,
    input_size,
    global_batch: int,
    *,
    jit_compile: bool = False,
    jit_augment: bool = False,
    losses=None,
    pixel_transforms=(),
):
    """``train_step(iterator) -> loss``: one optimizer step over the global batch.

    Each replica warps its crops and encodes its targets on its own device, computes MMPose's
    KeypointMSELoss divided by the *global* batch size, and the optimizer all-reduces (sums)
    the gradients across replicas, so N replicas take the same step as one replica on the
    whole batch (up to per-replica BatchNorm statistics, as in MMPose's DDP training).
    A model with several outputs (one per stage) is supervised at each: ``losses`` (one
    ``StageLoss`` per output, default MSE on the first codec's targets) says against which
    level of targets (``codec`` may be a list, one per level) with which loss and weight; the
    stage losses are summed (MMPose's CPMHead / MSPNHead.loss). ``pixel_transforms`` (the
    recipe's ``data.pixel_transforms``) run on the warped crops before the model.
    ``jit_compile`` compiles the whole replica step with XLA; ``jit_augment`` only the
    on-device augmentation (warp, pixel transforms, targets: ``kpose.devices`` on a CPU).
    """

    codecs = list(codec) if isinstance(codec, list | tuple) else [codec]
    num_outputs = len(model.outputs)
    losses = list(losses) if losses is not None else [StageLoss()] * num_outputs
    if len(losses) != num_outputs or max(s.level for s in losses) >= len(codecs):
        raise ModelError(
            f"{len(losses)} stage losses (levels {[s.level for s in losses]}) for "
            f"{num_outputs} model outputs and {len(codecs)} target levels"
        )

    def device_half(batch):
        return augment.make_training_batch(batch, codecs, input_size, pixel_transforms)

    if jit_augment and not jit_compile:
        device_half = tf.function(device_half, jit_compile=True)

    def replica_step(batch):
        images, targets, weights = device_half(batch)
        with tf.GradientTape() as tape:
            preds = model(images, training=True)
            preds = preds if isinstance(preds, list | tuple) else [preds]
            loss = (
                tf.add_n(
                    [
                        s.weight * tf.reduce_sum(s.per_sample(pred, targets[s.level], weights))
                        for pred, s in zip(preds, losses, strict=True)
                    ]
                )
                / global_batch
            )
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    replica_fn = tf.function(replica_step, jit_compile=True) if jit_compile else replica_step

    @tf.function
    def train_step(iterator):
        per_replica = strategy.run(replica_fn, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return train_step


def append_history(path: Path, epoch: int, loss: float | None, metrics: dict) -> None:
    """Add one epoch's line (``epoch``, running ``loss``, val metrics) to ``history.jsonl``."""
    with open(path, "a") as f:
        f.write(json.dumps({"epoch": epoch, "loss": loss, **metrics}) + "\n")
