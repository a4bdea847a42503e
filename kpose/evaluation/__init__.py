"""Evaluation: the metric engines (COCO-family AP, PCK family, PoseTrack18) and the evaluator
that feeds them predictions over a converted split."""
