"""Person detectors for top-down pose estimation: the detector protocol and its post-processing
(``base.py``), RTMDet ported from mmdet (``rtmdet.py``), adapters for keras-hub, ONNX Runtime
and plain callables (``adapters.py``) and the detector presets (``presets.py``)."""
