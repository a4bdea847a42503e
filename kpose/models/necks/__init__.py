"""Necks: multi-level backbone features -> the levels a head reads (mmdet's ``CSPNeXtPAFPN`` in
``cspnext_pafpn.py``, RTMDet's neck; MMPose's ``FeatureMapProcessor`` in
``feature_map_processor.py``, HRNetV2's branch concatenation for the face and hand models)."""
