"""MMPose's ``VisPredictHead`` (the ``td-hm-vis`` config, ``head.type: vis``) against MMPose
1.3.2, from one reference run: a narrowed model of the config (ResNet-18, a 3 x 64-channel
HeatmapHead, 128x96 crops) with random weights, converted into kpose's by the checkpoint
loader, gives the same heatmaps and visibility; MMPose's own predict step (flip test, its
``keypoints_visible``) equals kpose's predict path; the visibility's ``BCELoss`` value; and
``VisPredictHead.loss`` on combined data (AIC instances through MMPose's KeypointConverter, a
COCO one without, all through RandomFlip, GenerateTarget and PackPoseInputs) equals kpose's
training loss of the visibility, every label weighing 1 (see the test's docstring).
The full-size preset is in ``test_presets_parity.py``. Tolerances: heatmaps and scores
1e-4 x their scale, visibility probabilities 1e-4, keypoints 1e-3 px, the loss relative 1e-6.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap
from kpose.data.augment import sample_augmentation
from kpose.data.keypoint_mapping import keypoint_mapping
from kpose.data.metainfo import get_dataset_info
from kpose.inference.predict import make_predict_fn
from kpose.models.build import build_heatmap_model
from kpose.recipe import DataConfig, HeadConfig, ModelConfig
from kpose.training.losses import StageLoss, visibility_bce_per_sample
from kpose.weights.state_dict import assign_state_dict
from tests.parity.mmpose_ref import BODY, parameter_count, reference_model_outputs

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

CONFIG = BODY + "coco/td-hm-vis_res50_8xb64-210e_coco-aic-256x192-merge.py"
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
INPUT, HEATMAP = (96, 128), (24, 32)  # (w, h)
DECONVS = (64, 64, 64)
CODEC = {"type": "MSRAHeatmap", "input_size": INPUT, "heatmap_size": HEATMAP, "sigma": 2}
HEAD = {
    "pose_cfg": {
        "type": "HeatmapHead",
        "in_channels": 512,
        "out_channels": 17,
        "deconv_out_channels": DECONVS,
        "loss": {"type": "KeypointMSELoss", "use_target_weight": True},
        "decoder": CODEC,
    }
}
# MMPose's AIC -> COCO mapping, and the same without AIC's left hip, knee and ankle (COCO's
# left side unmapped there, so the flip moves its converter weights of 0 to the right side)
AIC_TO_COCO = [[0, 6], [1, 8], [2, 10], [3, 5], [4, 7], [5, 9], [6, 12], [7, 14], [8, 16]]
AIC_TO_COCO += [[9, 11], [10, 13], [11, 15]]
MAPPINGS = [AIC_TO_COCO, AIC_TO_COCO[:9], None]  # None: a COCO instance, no converter

# After the model: MMPose's predict step (flip test as the config's test_cfg) on crops whose
# centre / scale make its image coordinates the crop's, and the BCE loss of the config.
_AFTER = """
from mmpose.models.losses.classification_loss import BCELoss
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

w, h = (int(v) for v in inputs["input_size"])
samples = []
for _ in range(x.shape[0]):
    sample = PoseDataSample()
    sample.set_metainfo(dict(
        input_size=(w, h), input_center=np.array([w / 2, h / 2], np.float32),
        input_scale=np.array([w, h], np.float32),
        flip_indices=inputs["flip_indices"].tolist()))
    sample.gt_instances = InstanceData(
        bboxes=np.array([[0, 0, w, h]], np.float32), bbox_scores=np.ones(1, np.float32))
    samples.append(sample)
with torch.no_grad():
    preds = model.predict(x, samples)
outputs["pred_keypoints"] = np.stack([p.pred_instances.keypoints[0] for p in preds])
outputs["pred_scores"] = np.stack([p.pred_instances.keypoint_scores[0] for p in preds])
outputs["pred_visible"] = np.stack([p.pred_instances.keypoints_visible[0] for p in preds])
outputs["test_cfg"] = dict(model.test_cfg)

bce = BCELoss(use_target_weight=True, use_sigmoid=True, loss_weight=1e-3)
outputs["bce"] = np.array(float(bce(*(torch.from_numpy(inputs[f"bce_{k}"])
                                     for k in ("probabilities", "labels", "weights")))))

# VisPredictHead.loss of the config's head on combined data: each instance as the training
# pipeline leaves it (sub-dataset converter, RandomFlip, GenerateTarget, PackPoseInputs)
from mmpose.datasets.transforms import (GenerateTarget, KeypointConverter, PackPoseInputs,
                                        RandomFlip)

flip = RandomFlip(prob=1.0, direction="horizontal")
encode = GenerateTarget(encoder=dict(type="MSRAHeatmap", input_size=(w, h),
                                     heatmap_size=tuple(int(v) for v in inputs["heatmap_size"]),
                                     sigma=2))
vis_samples = []
for i, mapping in enumerate(json.loads(str(inputs["vis_mappings"]))):
    results = dict(img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
                   keypoints=inputs[f"vis_keypoints.{i}"][None].astype(np.float32),
                   keypoints_visible=inputs[f"vis_visible.{i}"][None].astype(np.float32),
                   flip_indices=inputs["flip_indices"].tolist())
    if mapping is not None:
        results = KeypointConverter(num_keypoints=17, mapping=mapping)(results)
    results = encode(flip(results))
    outputs[f"vis_converter_weights.{i}"] = np.asarray(
        results.get("keypoints_visible_weights", np.ones((1, 17))), np.float32)
    vis_samples.append(PackPoseInputs()(results)["data_samples"])
with torch.no_grad():
    vis_losses = model.head.loss(model.extract_feat(x), vis_samples)
outputs["vis_loss"] = np.array(float(vis_losses["loss_vis"]))
labels = [d.gt_instance_labels for d in vis_samples]
outputs["vis_labels"] = np.concatenate([np.asarray(g.keypoint_weights) for g in labels])
outputs["vis_packed_weights"] = np.array(["keypoints_visible_weights" in g for g in labels])
"""


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(13)
    width, height = INPUT
    images = rng.uniform(0, 255, (3, height, width, 3)).astype(np.float32)
    probabilities = rng.uniform(0, 1, (4, 17)).astype(np.float32)
    probabilities[0, :4] = [0.0, 1.0, 1e-30, 1.0 - 1e-7]  # log(0) is clamped at -100
    vis = {"vis_mappings": np.array(json.dumps(MAPPINGS))}
    for i, mapping in enumerate(MAPPINGS):
        k = 17 if mapping is None else 14
        keypoints = rng.uniform([2, 2], [width - 3, height - 3], (k, 2)).astype(np.float32)
        keypoints[k - 3] = [-20.0, 5.0]  # off the heatmap: label 0 where visible
        vis[f"vis_keypoints.{i}"] = keypoints
        vis[f"vis_visible.{i}"] = rng.choice(np.array([0.0, 1.0, 1.0], np.float32), k)
    bce = {
        "bce_probabilities": probabilities,
        "bce_labels": rng.choice(np.array([0.0, 1.0], np.float32), (4, 17)),
        "bce_weights": rng.choice(np.array([0.0, 1.0, 1.0], np.float32), (4, 17)),
    }
    state_dict, outputs = reference_model_outputs(
        CONFIG,
        images,
        backbone={"depth": 18},
        head=HEAD,
        after=_AFTER,
        input_size=np.array(INPUT),
        heatmap_size=np.array(HEATMAP),
        flip_indices=np.array(COCO_FLIP),
        **bce,
        **vis,
    )
    return images, {**bce, **vis}, state_dict, outputs


@pytest.fixture(scope="module")
def model(reference):
    """kpose's model of the narrowed config with MMPose's weights (strict loading)."""
    _, _, state_dict, _ = reference
    head = HeadConfig(type="vis", deconv_out_channels=DECONVS, deconv_kernel_sizes=(4, 4, 4))
    model = build_heatmap_model(ModelConfig(backbone="resnet18", head=head), INPUT, 17)
    assign_state_dict(model, state_dict, strict=True)
    return model


def test_vis_head_outputs_match_mmpose(reference, model):
    images, _, state_dict, outputs = reference
    assert model.output_names == ["heatmaps", "visibility"]
    heatmaps, visibility = (np.asarray(t) for t in model(images, training=False))
    scale = max(1.0, float(np.abs(outputs["heatmaps"]).max()))
    np.testing.assert_allclose(heatmaps, outputs["heatmaps"], rtol=0, atol=1e-4 * scale)
    assert visibility.shape == outputs["visibility"].shape == (3, 17)
    # probabilities (scale 1): 1e-4 as the heatmaps; measured ~2e-6 here
    np.testing.assert_allclose(visibility, outputs["visibility"], rtol=0, atol=1e-4)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert params == parameter_count(state_dict)


def test_predict_path_gives_mmpose_keypoints_visible(reference, model):
    images, _, _, outputs = reference
    assert outputs["test_cfg"] == {"flip_test": True, "flip_mode": "heatmap", "shift_heatmap": True}
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0)
    predict = make_predict_fn(model, codec, COCO_FLIP, flip_test=True, shift_heatmap=True)
    keypoints, scores, visible = (np.asarray(t) for t in predict(images))
    np.testing.assert_allclose(keypoints, outputs["pred_keypoints"], rtol=0, atol=1e-3)
    scale = max(1.0, float(np.abs(outputs["heatmaps"]).max()))
    np.testing.assert_allclose(scores, outputs["pred_scores"], rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose(visible, outputs["pred_visible"], rtol=0, atol=1e-4)


def test_visibility_bce_matches_mmpose(reference):
    _, bce, _, outputs = reference
    probabilities, labels = bce["bce_probabilities"], bce["bce_labels"]
    per_sample = visibility_bce_per_sample(probabilities, labels, bce["bce_weights"])
    np.testing.assert_allclose(1e-3 * float(np.mean(per_sample)), float(outputs["bce"]), rtol=1e-6)
    # the training step's loss of the visibility output: labels are the target weights, every
    # label weighs 1 (COCO's keypoints_visible_weights)
    stage = StageLoss(loss="bce", weight=1e-3)
    unweighted = visibility_bce_per_sample(probabilities, labels)
    np.testing.assert_array_equal(stage.per_sample(probabilities, None, labels), unweighted)


def test_combined_data_visibility_loss_matches_vis_predict_head(reference):
    """MMPose's KeypointConverter computes ``keypoints_visible_weights`` (0 for the targets
    without a source, 1 for the mapped ones, visible or not; RandomFlip permutes them), but
    they never reach VisPredictHead.loss: GenerateTarget puts the codec's ``label_mapping_table``
    (MSRAHeatmap: ``keypoint_weights`` only) into the results, which PackPoseInputs then packs
    instead of its default table, and the head's fallback weighs every label 1. kpose's
    training loss (labels: the codec's target weights of the flipped, mapped keypoints; no
    label weights) is MMPose's."""
    _, inputs, _, outputs = reference
    info = get_dataset_info("coco")
    width, height = INPUT
    data = dataclasses.replace(DataConfig(), flip_prob=1.0, half_body=None)
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2.0)
    flip = np.asarray(COCO_FLIP)
    labels = []
    for i, pairs in enumerate(MAPPINGS):
        keypoints, visible = inputs[f"vis_keypoints.{i}"], inputs[f"vis_visible.{i}"]
        converter_weights = np.ones(17, np.float32)
        if pairs is not None:
            mapping = keypoint_mapping([((a, a), t) for a, t in pairs], 17)
            keypoints, visible = (t.numpy() for t in mapping.apply(keypoints, visible))
            converter_weights[[t for t in range(17) if t not in {t for _, t in pairs}]] = 0.0
        # what MMPose's converter computed, permuted by RandomFlip (PackPoseInputs drops it)
        np.testing.assert_array_equal(
            outputs[f"vis_converter_weights.{i}"][0], converter_weights[flip]
        )
        inst = {
            "bbox": tf.constant([0.0, 0.0, width, height]),
            "width": tf.constant(float(width)),
            "keypoints": tf.constant(keypoints),
            "keypoints_visible": tf.constant(visible),
        }
        aug = sample_augmentation(inst, tf.constant([0, i], tf.int64), data, info, INPUT)
        assert bool(aug["flip"])
        labels.append(codec.encode(aug["keypoints"][None], aug["keypoints_visible"][None])[1])
    assert not outputs["vis_packed_weights"].any()
    assert outputs["vis_converter_weights.0"][0, :5].tolist() == [0.0] * 5  # no AIC face
    # the flip moved the second instance's unmapped left hip, knee, ankle to the right side
    assert outputs["vis_converter_weights.1"][0, [11, 12, 13, 14, 15, 16]].tolist() == [1, 0] * 3
    labels = np.concatenate(labels)
    np.testing.assert_array_equal(labels, outputs["vis_labels"])
    stage = StageLoss(loss="bce", weight=1e-3)
    per_sample = stage.per_sample(outputs["visibility"], None, labels)
    np.testing.assert_allclose(
        stage.weight * float(np.mean(per_sample)), float(outputs["vis_loss"]), rtol=1e-6
    )
    # the converter's weights would have given another loss: MMPose does not apply them
    weighted = visibility_bce_per_sample(
        outputs["visibility"],
        labels,
        np.concatenate([outputs[f"vis_converter_weights.{i}"] for i in range(3)]),
    )
    assert abs(1e-3 * float(np.mean(weighted)) - float(outputs["vis_loss"])) > 1e-6
