"""``python -m kpose.evaluate RECIPE.yaml --weights W``: score trained weights on the val split.

    python -m kpose.evaluate recipes/hrnet_w32_coco.yaml --weights work_dirs/w32/best.weights.h5 \
        [--detections person_detections.json] [--no-flip] [--out DIR] [key.sub=value ...]

Writes ``DIR/results.keypoints.json`` (COCO results format, image pixels), ``DIR/metrics.json``
and prints the metric table. The metric is the recipe's ``eval.metric`` (MMPose's metric of the
dataset); ``--detections`` replaces the boxes with a detector's (COCO results JSON, person
category, ``--det-score-thr``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kpose.errors import KposeError


def evaluate(
    recipe,
    weights: str | Path,
    *,
    detections: str | Path | None = None,
    det_score_thr: float = 0.0,
    flip_test: bool | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Load ``weights`` into the recipe's model, predict the val split and score it."""
    from kpose.codecs import make_codec
    from kpose.data.formats.coco import Report, read_detections
    from kpose.data.metainfo import get_dataset_info
    from kpose.evaluation.evaluator import Evaluator
    from kpose.models.build import build_heatmap_model

    weights = Path(weights)
    if not weights.is_file():
        raise KposeError(f"--weights {weights}: file not found")
    info = get_dataset_info(recipe.data.dataset)
    model = build_heatmap_model(recipe.model, tuple(recipe.codec.input_size), info.num_keypoints)
    try:
        model.load_weights(str(weights))
    except (ValueError, OSError) as exc:
        raise KposeError(
            f"--weights {weights}: cannot load into {model.name} "
            f"({info.num_keypoints} keypoints): {exc}"
        ) from exc
    boxes = None
    if detections is not None:
        report = Report()
        boxes = read_detections(detections, det_score_thr, report)
        if not boxes:
            raise KposeError(
                f"--detections {detections}: no person boxes kept "
                f"({json.dumps(report.as_dict()['skipped_detections'])})"
            )
    evaluator = Evaluator(
        recipe,
        model,
        make_codec(recipe),
        info,
        progress=progress,
        detections=boxes,
        flip_test=flip_test,
    )
    out = Path(out) if out is not None else weights.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluator.run(outfile_prefix=out / "results")
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "recipe": recipe.source,
                "weights": str(weights),
                "detections": str(detections or ""),
                "metric": recipe.eval.metric,
                "metrics": metrics,
            },
            indent=1,
        )
    )
    return metrics


def table(prefix: str, metrics: dict[str, float]) -> str:
    width = max(len(k) for k in metrics) + len(prefix) + 1
    return "\n".join(
        f"{prefix}/{k:<{width - len(prefix) - 1}}  {v:.4f}" for k, v in metrics.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpose.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", help="recipe YAML file or preset name")
    parser.add_argument("overrides", nargs="*", help="key.sub=value recipe overrides")
    parser.add_argument("--weights", required=True, help="a .weights.h5 file from kpose.fit")
    parser.add_argument("--detections", help="person detections (COCO results JSON)")
    parser.add_argument("--det-score-thr", type=float, default=0.0)
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--out", help="output folder (default: next to the weights, eval/)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_intermixed_args(argv)
    try:
        from kpose import load_recipe_for
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
    except KposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(recipe.data.dataset, metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
