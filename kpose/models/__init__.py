"""Heatmap models: backbones (one file per family), heads, the model builder and the
MMPose checkpoint name mapping."""
