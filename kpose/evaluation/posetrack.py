"""PoseTrack18 per-frame multi-person AP with the numbers of MMPose's ``PoseTrack18Metric``.

MMPose rescores and OKS-NMSes the predictions like ``CocoMetric``, writes one prediction file
per video next to the official per-video ground truth (``annotations/val/*.json``) and scores
them with poseval (``eval_helpers.load_data_dir`` + ``evaluateAP``). poseval is not on PyPI, so
its AP is reimplemented here from its source (github.com/svenkreiss/poseval):

- each person becomes poseval's 15 joints (``_POSEVAL_JOINTS``; the ears are dropped); a joint
  stored as ``(0, 0, 0)`` (x, y, visibility - for predictions the third value is the score)
  does not exist;
- frames whose ground truth has no person are dropped, with their predictions;
- in frames with ignore regions, joints inside any region polygon (``shapely``'s ``contains``,
  poseval's predicate) are removed from GT and predictions, and people left without joints;
- per frame, a prediction and a GT person match by PCKh@0.5 (distance / (0.6 x head box
  diagonal)): each prediction keeps its best GT (by the fraction of matched GT joints), each GT
  its best prediction among those; the joints of a matched prediction are true positives where
  they are within the threshold, all other predicted joints are false positives;
- per joint, scores of all frames are ranked (``np.argsort`` reversed, as poseval) into a
  precision/recall curve and VOC AP (x100); ``AP`` is the mean over the 15 joints, the
  ``Head/Shou/...`` stats average the joint groups of poseval's ``getCum``.

Frames come in the order poseval reads them (video files in ``glob``'s order, frames in
file order) because that order breaks exact score ties in the ranking; GT people are in
annotation order, predictions per frame in the order NMS keeps them (highest score first), as
MMPose writes them.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from kpose.errors import DataError
from kpose.evaluation.coco import dataset_sigmas, metric_settings, rescore, select_instances
from kpose.evaluation.predictions import prediction_columns

log = logging.getLogger(__name__)

POSETRACK_STAT_NAMES = (
    "Head AP", "Shou AP", "Elb AP", "Wri AP", "Hip AP", "Knee AP", "Ankl AP", "AP",
)  # fmt: skip
# poseval's joint ids 0..14, by PoseTrack18 keypoint name.
_POSEVAL_JOINTS = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "head_bottom", "nose", "head_top",
)  # fmt: skip
# poseval's getCum: joint-id groups averaged into the reported stats.
_JOINT_GROUPS = ((14, 12, 13), (8, 9), (7, 10), (6, 11), (2, 3), (1, 4), (0, 5))
# MMPose's 17 PoseTrack18 keypoints, in the order its prediction files list them.
_MMPOSE_KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_MMPOSE_SKELETON = (
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
)  # fmt: skip
_PCKH_THR = 0.5
_HEAD_FACTOR = 0.6  # poseval's head size: 0.6 x the head box diagonal


@dataclass
class _People:
    """One frame's people in poseval's joint order."""

    xy: np.ndarray  # (N, 15, 2) float64
    has: np.ndarray  # (N, 15) bool: the joint exists
    score: np.ndarray  # (N, 15) float64 joint scores (predictions)
    head: np.ndarray  # (N,) float64 head size (GT; NaN without a head box)

    def keep(self, rows: np.ndarray) -> _People:
        return _People(self.xy[rows], self.has[rows], self.score[rows], self.head[rows])


@dataclass
class _Frame:
    name: str  # "<video file>: image <id>" for messages
    image_id: int
    gt: _People
    pred: _People
    ignore_regions: list  # shapely Polygons


def _joint_table(names: Sequence[str], where: str) -> np.ndarray:
    """For each of the file's keypoints, its poseval joint id or -1."""
    table = np.array([_POSEVAL_JOINTS.index(n) if n in _POSEVAL_JOINTS else -1 for n in names])
    missing = sorted(set(range(len(_POSEVAL_JOINTS))) - set(table.tolist()))
    if missing:
        raise DataError(
            f"{where}: the keypoint names lack PoseTrack's {[_POSEVAL_JOINTS[i] for i in missing]}"
        )
    return table


def _people(keypoints: list, table: np.ndarray, *, heads: list | None = None) -> _People:
    """poseval's people from ``(N, K, 3)`` keypoints: x, y and the GT visibility or the
    predicted score (which is also the joint's score)."""
    n, k = len(keypoints), len(table)
    kps = np.asarray(keypoints, np.float64).reshape(n, k, 3) if n else np.zeros((0, k, 3))
    # poseval's PoseTrack18 -> 17 conversion drops (0, 0, 0) joints as unannotated.
    exists = ~((kps[..., 0] == 0) & (kps[..., 1] == 0) & (kps[..., 2] == 0))  # (N, K)
    cols = np.flatnonzero(table >= 0)
    ids = table[cols]
    xy = np.zeros((n, 15, 2))
    has = np.zeros((n, 15), bool)
    score = np.full((n, 15), np.nan)
    xy[:, ids] = kps[:, cols, :2]
    has[:, ids] = exists[:, cols]
    score[:, ids] = kps[:, cols, 2]
    head = np.full(n, np.nan)
    if heads is not None:
        for i, box in enumerate(heads):
            if box is not None:
                x1, y1, w, h = box
                diag = np.subtract([x1 + w, y1 + h], [x1, y1])
                head[i] = _HEAD_FACTOR * np.linalg.norm(diag)
    return _People(xy, has, score, head)


def _polygons(image: Mapping, where: str) -> list:
    xs, ys = image.get("ignore_regions_x"), image.get("ignore_regions_y")
    if not xs or ys is None:
        return []
    polygons = []
    for i, (px, py) in enumerate(zip(xs, ys, strict=True)):
        try:
            polygons.append(shapely.Polygon(list(zip(px, py, strict=True))))
        except (ValueError, shapely.errors.GEOSException) as err:
            raise DataError(f"{where}: ignore region {i} is not a polygon: {err}") from err
    return polygons


def _video_frames(gt_file: Path, kept: Mapping[int, list], table_pred: np.ndarray) -> list:
    """The frames of one per-video GT file, with the kept predictions of each image."""
    with open(gt_file) as f:
        data = json.load(f)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{gt_file}: a PoseTrack18 video file needs '{key}'")
    table = _joint_table(data["categories"][0]["keypoints"], str(gt_file))
    by_image = defaultdict(list)
    for a in data["annotations"]:
        by_image[a["image_id"]].append(a)
    frames = []
    for image in data["images"]:
        where = f"{gt_file.name}: image {image['id']}"
        anns = by_image.get(image["id"], [])
        gt = _people(
            [a["keypoints"] for a in anns], table, heads=[a.get("bbox_head") for a in anns]
        )
        pred = _people([kps for kps, _ in kept.get(image["id"], [])], table_pred)
        frames.append(_Frame(where, image["id"], gt, pred, _polygons(image, where)))
    return frames


def _drop_ignored(people: _People, polygons: list) -> _People:
    """Joints inside an ignore region go; so do people left without joints."""
    inside = np.zeros(people.has.shape, bool)
    points = shapely.points(people.xy.reshape(-1, 2))
    for polygon in polygons:
        inside |= shapely.contains(polygon, points).reshape(people.has.shape)
    has = people.has & ~inside
    kept = _People(people.xy, has, people.score, people.head)
    return kept.keep(np.flatnonzero(has.any(axis=1)))


def _assign(frame: _Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """poseval's ``assignGTmulti`` for one frame: the predicted joints' scores and TP labels
    ``(P, 15)`` (NaN / False where no joint is predicted) and the GT joint counts ``(15,)``."""
    gt, pred = frame.gt, frame.pred
    labels = np.zeros(pred.has.shape, bool)
    if len(gt.has) and len(pred.has):
        missing = np.flatnonzero(np.isnan(gt.head) & gt.has.any(axis=1))
        if len(missing):
            raise DataError(
                f"{frame.name}: GT person {missing[0]} has no 'bbox_head' (PCKh needs the head box)"
            )
        diff = gt.xy[None] - pred.xy[:, None]  # (P, G, 15, 2)
        dist = np.sqrt(np.sum(diff * diff, axis=-1)) / gt.head[None, :, None]  # (P, G, 15)
        both = pred.has[:, None] & gt.has[None]
        match = np.where(both, dist, np.inf) <= _PCKH_THR
        counts = gt.has.sum(axis=1)  # (G,)
        pck = match.sum(axis=2) / np.where(counts > 0, counts, 1)  # (P, G)
        best_gt = np.argmax(pck, axis=1)  # (P,)
        pck = np.where(np.arange(pck.shape[1])[None] == best_gt[:, None], pck, 0.0)
        best_pred = np.argmax(pck, axis=0)  # (G,)
        for g in np.flatnonzero(pck.max(axis=0) > 0):
            labels[best_pred[g]] = match[best_pred[g], g]
    labels &= pred.has
    return pred.score, labels, gt.has.sum(axis=0)


def _voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """poseval's ``VOCap``: area under the precision envelope at the recall steps."""
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return np.sum(np.multiply(np.subtract(mrec[i], mrec[i - 1]), mpre[i]))


def _joint_ap(scores: np.ndarray, labels: np.ndarray, num_gt: float) -> float:
    """AP (x100) of one joint from its predictions' scores and TP labels (poseval's
    ``computeRPC`` + ``VOCap``)."""
    if len(scores) == 0:
        return 0.0
    order = np.array(scores).argsort()[::-1]
    true_pos = np.cumsum(labels[order] == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = 1.0 * true_pos / num_gt
    precision = 1.0 * true_pos / np.arange(1, len(order) + 1)
    return _voc_ap(recall, precision) * 100


def poseval_ap(frames: Sequence[_Frame]) -> dict[str, float]:
    """poseval's per-joint AP over ``frames`` as MMPose reports it (``POSETRACK_STAT_NAMES``)."""
    frames = [f for f in frames if len(f.gt.has)]
    scores = [[] for _ in _POSEVAL_JOINTS]
    labels = [[] for _ in _POSEVAL_JOINTS]
    num_gt = np.zeros(len(_POSEVAL_JOINTS))
    for frame in frames:
        if frame.ignore_regions:
            regions = frame.ignore_regions
            frame = _Frame(
                frame.name,
                frame.image_id,
                _drop_ignored(frame.gt, regions),
                _drop_ignored(frame.pred, regions),
                [],
            )
        score, label, count = _assign(frame)
        num_gt += count
        for j in range(len(_POSEVAL_JOINTS)):
            rows = frame.pred.has[:, j]
            scores[j].append(score[rows, j])
            labels[j].append(label[rows, j])
    ap = np.zeros((len(_POSEVAL_JOINTS) + 1, 1))
    for j in range(len(_POSEVAL_JOINTS)):
        ap[j] = _joint_ap(
            np.concatenate([np.zeros(0), *scores[j]]),
            np.concatenate([np.zeros(0, bool), *labels[j]]),
            num_gt[j],
        )
    valid = np.argwhere(~np.isnan(ap[: len(_POSEVAL_JOINTS), 0]))
    ap[len(_POSEVAL_JOINTS)] = ap[valid, 0].mean()
    stats = [float(ap[list(group), 0].mean()) for group in _JOINT_GROUPS]
    stats.append(float(ap[len(_POSEVAL_JOINTS), 0]))
    return dict(zip(POSETRACK_STAT_NAMES, stats, strict=True))


def _video_files(gt_folder: str | os.PathLike) -> list[Path]:
    # glob.glob, not sorted: poseval's order, which decides how tied scores rank.
    files = [Path(f) for f in glob.glob(os.path.join(os.fspath(gt_folder), "*.json"))]
    if not files:
        raise DataError(
            f"{gt_folder}: no per-video PoseTrack18 ground truth (*.json) found; "
            "convert the val split with its annotations/val folder (--gt-folder)"
        )
    return files


def write_posetrack18_predictions(
    out_dir: str | os.PathLike, gt_folder: str | os.PathLike, kept: Mapping[int, list]
) -> list[Path]:
    """One prediction file per GT video, in the format MMPose writes and poseval reads.

    ``kept`` maps image id -> ``[(keypoints (17, 3) [x, y, score], instance score), ...]``;
    ``track_id`` is the index within the frame, as in MMPose.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    category = {
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": list(_MMPOSE_KEYPOINTS),
        "skeleton": [list(link) for link in _MMPOSE_SKELETON],
    }
    written = []
    for gt_file in _video_files(gt_folder):
        gt = json.loads(gt_file.read_text())
        images, annotations = [], []
        for image in gt["images"]:
            images.append({"id": image["id"], "file_name": image["file_name"]})
            for track_id, (kps, score) in enumerate(kept.get(image["id"], [])):
                annotations.append(
                    {
                        "image_id": image["id"],
                        "keypoints": kps.reshape(-1).tolist(),
                        "scores": kps[:, 2].tolist(),
                        "score": float(score),
                        "track_id": track_id,
                    }
                )
        path = out / gt_file.name
        path.write_text(
            json.dumps(
                {"images": images, "categories": [category], "annotations": annotations},
                sort_keys=True,
                indent=4,
            )
        )
        written.append(path)
    return written


def posetrack18_evaluate(
    gt_folder: str | os.PathLike,
    predictions: Mapping | Sequence[Mapping],
    dataset: str = "posetrack18",
    *,
    score_mode: str | None = None,
    keypoint_score_thr: float | None = None,
    nms_mode: str | None = None,
    nms_thr: float | None = None,
    outfile_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """PoseTrack18 AP of top-down predictions, equal to MMPose's ``PoseTrack18Metric``.

    Args:
        gt_folder: the official per-video ground truth (``annotations/val/``), as copied by
            ``kpose.convert posetrack18`` to ``<out>/posetrack18-gt-<split>/``.
        predictions: per-instance dicts or columns as for ``coco_evaluate`` (``image_id`` =
            PoseTrack image id, ``keypoints`` ``(17, 2)`` image pixels, ``keypoint_scores``,
            ``bbox_score``, ``area``, optional ``id``).
        dataset: whose OKS sigmas the NMS uses and whose MMPose settings
            (``kpose.evaluation.coco.METRIC_SETTINGS``) fill the arguments left ``None``.
        score_mode, keypoint_score_thr, nms_mode, nms_thr: as ``coco_evaluate``.
        outfile_dir: when given, the per-video prediction files (MMPose's format, which the
            PoseTrack server and poseval read) are written there.

    Returns:
        ``{"Head AP", "Shou AP", "Elb AP", "Wri AP", "Hip AP", "Knee AP", "Ankl AP", "AP"}``
        in percent, as MMPose reports them.

    Example:
        >>> posetrack18_evaluate("tfrecords/posetrack18/posetrack18-gt-val", preds)["AP"]
    """
    settings = metric_settings(
        dataset,
        score_mode=score_mode,
        keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode,
        nms_thr=nms_thr,
    )
    files = _video_files(gt_folder)
    preds = prediction_columns(predictions)
    if preds["keypoint_scores"].shape[1] != len(_MMPOSE_KEYPOINTS):
        raise DataError(
            f"PoseTrack18 predictions need {len(_MMPOSE_KEYPOINTS)} keypoints, got "
            f"{preds['keypoint_scores'].shape[1]}"
        )
    sigmas = dataset_sigmas(dataset, len(_MMPOSE_KEYPOINTS))
    scores = rescore(
        preds["bbox_score"],
        preds["keypoint_scores"],
        settings.score_mode,
        settings.keypoint_score_thr,
    )  # (N,)
    keypoints = np.concatenate(
        [preds["keypoints"], preds["keypoint_scores"][..., None]], axis=-1
    )  # (N, 17, 3)
    kept = defaultdict(list)
    for i in select_instances(
        preds, scores, keypoints, sigmas, settings.nms_mode, settings.nms_thr
    ):
        kept[int(preds["image_id"][i])].append((keypoints[i], scores[i]))
    if outfile_dir is not None:
        write_posetrack18_predictions(outfile_dir, gt_folder, kept)

    table_pred = _joint_table(_MMPOSE_KEYPOINTS, "predictions")
    frames = []
    for f in files:
        frames += _video_frames(f, kept, table_pred)
    unknown = set(kept) - {fr.image_id for fr in frames}
    if unknown:
        log.warning(
            "%d predicted image(s) are in no video of %s and are not scored, e.g. %s",
            len(unknown),
            gt_folder,
            sorted(unknown)[:5],
        )
    return poseval_ap(frames)
