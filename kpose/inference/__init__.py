"""Inference: the top-down predict path (crop -> model -> flip test -> decode -> image pixels),
``PoseEstimator`` built on it, and the serving export."""
