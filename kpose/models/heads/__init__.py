"""Heads: backbone features -> one heatmap per keypoint (MMPose's ``HeatmapHead`` in
``heatmap.py``, the multi-stage ``CPMHead`` in ``cpm.py``, ``MSPNHead`` in ``mspn.py``)."""
