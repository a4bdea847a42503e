"""``kpose.visualize``: skeleton and heatmap overlays draw where the keypoints are."""

from __future__ import annotations

import numpy as np

import kpose
from kpose.visualize import draw_heatmaps, draw_pose


def test_draw_pose_and_heatmaps_change_the_right_pixels():
    image = np.zeros((200, 200, 3), np.uint8)
    info = kpose.data.metainfo.get_dataset_info("coco")
    keypoints = np.full((1, 17, 2), 100.0)
    keypoints[0, 5], keypoints[0, 7] = (60, 60), (140, 140)  # left shoulder -> left elbow
    scores = np.zeros((1, 17))
    scores[0, [5, 7]] = 0.9
    drawn = draw_pose(image, {"keypoints": keypoints, "scores": scores}, info)
    assert drawn[100, 100].any()  # on the shoulder-elbow line
    assert drawn[60, 60].any() and drawn[140, 140].any()  # the two joints
    assert not drawn[20, 180].any() and not image.any()  # elsewhere untouched, input intact
    crop = np.zeros((64, 48, 3), np.uint8)
    heat = np.zeros((16, 12, 17), np.float32)
    heat[8, 6, 3] = 1.0
    overlay = draw_heatmaps(crop, heat)
    assert overlay[32, 24].sum() > overlay[2, 2].sum()
