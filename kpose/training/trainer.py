"""The training loop: one distributed loop for every strategy, readable top to bottom.

Keras' ``Model.fit`` fails under MultiWorkerMirroredStrategy (DESIGN.md, "Training"), so kpose
owns the loop: ``strategy.run`` of a replica step over a distributed dataset. The replica step
warps the coarse crops, transforms keypoints and encodes heatmaps on the replica's device
(``kpose.data.augment``), runs the model and applies MMPose's KeypointMSELoss. Checkpoints
(``tf.train.CheckpointManager``) hold the model, the optimizer, the epoch and the step within
the epoch; the input pipeline is reproducible per epoch, so a resumed run skips exactly the
batches it already trained on. Validation runs every ``train.val_interval`` epochs and at the
end; the best weights by the metric are kept as ``best.weights.h5``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf
from tqdm import tqdm

from kpose.codecs import make_codec, make_training_codecs
from kpose.data import augment, pipeline
from kpose.data.metainfo import get_dataset_info
from kpose.evaluation.evaluator import Evaluator
from kpose.models.build import build_heatmap_model
from kpose.recipe import Recipe, TrainConfig, to_dict
from kpose.training.losses import (
    StageLoss,
    keypoint_mse_per_sample,
    keypoint_ohkm_mse_per_sample,
    stage_losses,
)
from kpose.training.optimizers import (
    PYTORCH_ADAM_EPSILON,
    GroupedAdamW,
    layer_decay_groups,
    no_decay_groups,
)
from kpose.training.schedules import WarmupMultiStep
from kpose.visualize import plot_history

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
                raise ValueError(
                    "train.layer_decay_num_layers must be set (the backbone's "
                    "number of transformer layers) with train.layer_decay_rate"
                )
            groups = layer_decay_groups(model, cfg.layer_decay_num_layers, cfg.layer_decay_rate)
        elif cfg.no_decay_keys:
            groups = no_decay_groups(model, cfg.no_decay_keys)
        return GroupedAdamW(
            schedule, weight_decay=cfg.weight_decay, groups=groups, global_clipnorm=clip
        )
    raise ValueError(f"train.optimizer: expected 'adam' or 'adamw', got {cfg.optimizer!r}")


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


def fit(
    recipe: Recipe, *, strategy: tf.distribute.Strategy | None = None, progress: bool = True
) -> dict:
    """Train ``recipe``; returns the last validation metrics (and the best)."""
    strategy = strategy or default_strategy()
    cfg = recipe.train
    info = get_dataset_info(recipe.data.dataset)
    input_size = tuple(recipe.codec.input_size)
    chief = _is_chief(strategy)
    work_dir = Path(cfg.work_dir)
    # Under MultiWorkerMirroredStrategy every worker saves; only the chief keeps its files.
    write_dir = work_dir if chief else Path(tempfile.mkdtemp(prefix="kpose-worker-"))
    write_dir.mkdir(parents=True, exist_ok=True)
    if chief:
        (work_dir / "recipe.json").write_text(json.dumps(to_dict(recipe), indent=2))

    num_instances = pipeline.count_train_instances(recipe.data.root, recipe.data.train_split, info)
    global_batch = cfg.batch_size
    steps_per_epoch = cfg.steps_per_epoch or max(1, num_instances // global_batch)
    lr = cfg.lr * (global_batch / cfg.base_batch_size if cfg.scale_lr else 1.0)
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(cfg.seed)

    with strategy.scope():
        # Multi-stage models (CPM, MSPN, ...) are supervised at every stage; ``model`` (the last
        # stage, what is evaluated and saved) shares its layers with ``stages_model``.
        stages_model = build_heatmap_model(
            recipe.model, input_size, info.num_keypoints, all_stages=True
        )
        model = keras.Model(stages_model.input, stages_model.outputs[-1], name=stages_model.name)
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
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Build the optimizer's slots inside the scope before tracing (DESIGN.md, known traps).
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        best_var = tf.Variable(-math.inf, dtype=tf.float64, trainable=False, name="best_metric")
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        epoch=epoch_var,
        step_in_epoch=step_var,
        best_metric=best_var,
    )
    manager = tf.train.CheckpointManager(checkpoint, str(write_dir / "checkpoints"), max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        log.info(
            "resumed from %s (epoch %d, step %d)",
            manager.latest_checkpoint,
            int(epoch_var.numpy()),
            int(step_var.numpy()),
        )
        print(
            f"resumed from {manager.latest_checkpoint}: epoch {int(epoch_var.numpy()) + 1},"
            f" step {int(step_var.numpy())}"
        )
    elif cfg.load_from:  # MMPose's load_from: start from trained weights (not a resume)
        from kpose.weights.load import load_weights

        load_weights(model, cfg.load_from)
        print(f"initialised from {cfg.load_from}")
    elif cfg.backbone_weights:  # MMPose's backbone init_cfg=Pretrained
        from kpose.weights.load import load_backbone_weights

        result = load_backbone_weights(model, cfg.backbone_weights, cfg.backbone_weights_prefix)
        print(
            f"backbone initialised from {cfg.backbone_weights} ({len(result.missing_keys)} "
            f"backbone tensors not in it, {len(result.unexpected_keys)} of its tensors unused)"
        )

    codec = make_codec(recipe)

    train_step = make_train_step(
        strategy,
        stages_model,
        optimizer,
        make_training_codecs(recipe),
        input_size,
        global_batch,
        jit_compile=cfg.jit_compile,
        losses=stage_losses(recipe.model.head, len(stages_model.outputs)),
    )

    writer = tf.summary.create_file_writer(str(write_dir / "logs"))
    history_path = write_dir / "history.jsonl"
    val = Evaluator(recipe, model, codec, info, progress=progress) if chief else None
    metrics: dict = {}
    start_epoch = int(epoch_var.numpy())

    for epoch in range(start_epoch, cfg.epochs):
        done = int(step_var.numpy()) if epoch == start_epoch else 0

        def dataset_fn(ctx, epoch=epoch, done=done):
            return pipeline.train_dataset(
                recipe.data.root,
                recipe.data.train_split,
                recipe.data,
                info,
                input_size,
                ctx.get_per_replica_batch_size(global_batch),
                seed=cfg.seed,
                epoch=epoch,
                # each input pipeline feeds num_replicas / num_pipelines replicas per step
                skip_batches=done * (ctx.num_replicas_in_sync // ctx.num_input_pipelines),
                input_context=ctx,
                use_udp=recipe.use_udp_warp,
            )

        iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
        bar = tqdm(
            total=steps_per_epoch,
            initial=done,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="step",
            disable=not progress,
            dynamic_ncols=True,
        )
        t0, seen, running = time.perf_counter(), 0, None
        for step in range(done, steps_per_epoch):
            loss = float(train_step(iterator))
            seen += global_batch
            running = loss if running is None else 0.9 * running + 0.1 * loss
            step_var.assign(step + 1)
            it = int(optimizer.iterations.numpy())
            if (step + 1) % cfg.log_every == 0 or step + 1 == steps_per_epoch:
                rate = seen / (time.perf_counter() - t0)
                lr_now = float(schedule(it))
                bar.set_postfix(loss=f"{running:.3g}", lr=f"{lr_now:.2e}", samples_s=f"{rate:.1f}")
                with writer.as_default(step=it):
                    tf.summary.scalar("train/loss", running)
                    tf.summary.scalar("train/lr", lr_now)
                    tf.summary.scalar("train/samples_per_second", rate)
            if cfg.checkpoint_interval and (step + 1) % cfg.checkpoint_interval == 0:
                manager.save(checkpoint_number=it)
            bar.update(1)
        bar.close()
        epoch_var.assign(epoch + 1)
        step_var.assign(0)
        is_last = epoch + 1 == cfg.epochs
        if val is not None and ((epoch + 1) % cfg.val_interval == 0 or is_last):
            metrics = val.run()
            key = val.key
            with writer.as_default(step=int(optimizer.iterations.numpy())):
                for name, value in metrics.items():
                    tf.summary.scalar(f"val/{name}", value)
            if metrics[key] > best_var.numpy():
                best_var.assign(metrics[key])
                model.save_weights(str(write_dir / "best.weights.h5"))
            if progress:
                print(
                    f"epoch {epoch + 1}: {val.prefix}/{key} {metrics[key]:.4f} "
                    f"(best {best_var.numpy():.4f})"
                )
        if chief:
            _append_history(history_path, epoch + 1, running, metrics)
            plot_history(history_path, write_dir / "curves.png")
        model.save_weights(str(write_dir / "last.weights.h5"))
        manager.save(checkpoint_number=int(optimizer.iterations.numpy()))
    writer.flush()
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
    return {**metrics, "best": float(best_var.numpy())}


def make_train_step(
    strategy,
    model,
    optimizer,
    codec,
    input_size,
    global_batch: int,
    *,
    jit_compile: bool = False,
    losses=None,
):
    """``train_step(iterator) -> loss``: one optimizer step over the global batch.

    Each replica warps its crops and encodes its targets on its own device, computes MMPose's
    KeypointMSELoss divided by the *global* batch size, and the optimizer all-reduces (sums)
    the gradients across replicas, so N replicas take the same step as one replica on the
    whole batch (up to per-replica BatchNorm statistics, as in MMPose's DDP training).
    A model with several outputs (one per stage) is supervised at each: ``losses`` (one
    ``StageLoss`` per output, default MSE on the first codec's targets) says against which
    level of targets (``codec`` may be a list, one per level) with which loss and weight; the
    stage losses are summed (MMPose's CPMHead / MSPNHead.loss).
    """

    codecs = list(codec) if isinstance(codec, list | tuple) else [codec]
    num_outputs = len(model.outputs)
    losses = list(losses) if losses is not None else [StageLoss()] * num_outputs
    if len(losses) != num_outputs or max(s.level for s in losses) >= len(codecs):
        raise ValueError(
            f"{len(losses)} stage losses (levels {[s.level for s in losses]}) for "
            f"{num_outputs} model outputs and {len(codecs)} target levels"
        )

    def per_sample(stage, pred, target, weights):
        if stage.loss == "ohkm":
            return keypoint_ohkm_mse_per_sample(pred, target, weights, stage.topk)
        return keypoint_mse_per_sample(pred, target, weights)

    def replica_step(batch):
        images, targets, weights = augment.make_training_batch(batch, codecs, input_size)
        with tf.GradientTape() as tape:
            preds = model(images, training=True)
            preds = preds if isinstance(preds, list | tuple) else [preds]
            loss = (
                tf.add_n(
                    [
                        s.weight * tf.reduce_sum(per_sample(s, pred, targets[s.level], weights))
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


def _append_history(path: Path, epoch: int, loss, metrics: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps({"epoch": epoch, "loss": loss, **metrics}) + "\n")
