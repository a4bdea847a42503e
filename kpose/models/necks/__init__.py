"""Necks: multi-level backbone features -> the levels a dense head reads (mmdet's
``CSPNeXtPAFPN`` in ``cspnext_pafpn.py``, RTMDet's neck)."""
