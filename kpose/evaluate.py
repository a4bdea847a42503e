"""``python -m kpose.evaluate RECIPE.yaml --weights W``: score trained weights on the val split.

    python -m kpose.evaluate recipes/hrnet_w32_coco.yaml --weights work_dirs/w32/best.weights.h5 \
        [--detections person_detections.json] [--no-flip] [--out DIR] [key.sub=value ...]

Writes ``DIR/results.keypoints.json`` (COCO results format, image pixels), ``DIR/metrics.json``
and prints the metric table (``<dataset>/AP ...``). The metric is the recipe's ``eval.metric``
(MMPose's metric of the dataset, with the dataset's MMPose settings); ``--detections``
replaces the boxes with a detector's (COCO results JSON, person category,
``--det-score-thr``). ``--weights`` takes an MMPose ``.pth``, a ``.weights.h5`` or a ``.keras``
file. The library function is ``kpose.evaluation.evaluator.evaluate``.
"""

from __future__ import annotations

import sys

from kpose.cli import argument_parser, reports_errors


def table(prefix: str, metrics: dict[str, float]) -> str:
    """The metrics as ``prefix/name  value`` lines."""
    width = max(len(k) for k in metrics) + len(prefix) + 1
    return "\n".join(
        f"{prefix}/{k:<{width - len(prefix) - 1}}  {v:.4f}" for k, v in metrics.items()
    )


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("evaluate", __doc__)
    parser.add_argument("recipe", help="recipe YAML file or preset name")
    parser.add_argument("overrides", nargs="*", help="key.sub=value recipe overrides")
    parser.add_argument(
        "--weights", required=True, help="MMPose .pth, .weights.h5 (from kpose.fit) or .keras"
    )
    parser.add_argument("--detections", help="person detections (COCO results JSON)")
    parser.add_argument("--det-score-thr", type=float, default=0.0)
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--out", help="output folder (default: next to the weights, eval/)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_intermixed_args(argv)
    from kpose.evaluation.evaluator import evaluate
    from kpose.presets import load_recipe_for
    from kpose.recipe import replace

    recipe = replace(load_recipe_for(args.recipe), args.overrides)
    metrics = evaluate(
        recipe,
        args.weights,
        detections=args.detections,
        det_score_thr=args.det_score_thr,
        flip_test=False if args.no_flip else None,
        out=args.out,
        progress=not args.no_progress,
    )
    print(table(recipe.data.dataset, metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
