"""Heatmap models: backbones (one file per family), the shared layers they are built from, the
heads and the model builder."""
