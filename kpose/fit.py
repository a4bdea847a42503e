"""``python -m kpose.fit RECIPE.yaml [key.sub=value ...]``: train a recipe, report its metric.

If the recipe's data root holds no converted dataset and the recipe has a ``data.synthetic``
section (the quickstart), the synthetic train and val splits are generated first, from
different seeds. Running the same command again after an interruption resumes from the last
checkpoint in ``train.work_dir``.
"""

from __future__ import annotations

import logging
import sys
import time

from kpose.cli import argument_parser, reports_errors


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("fit", __doc__)
    parser.add_argument("recipe", help="recipe YAML file or preset name")
    parser.add_argument("overrides", nargs="*", help="key.sub=value recipe overrides")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from kpose.evaluation.evaluator import headline
    from kpose.presets import load_recipe_for
    from kpose.recipe import replace
    from kpose.training.trainer import fit

    start = time.perf_counter()
    recipe = replace(load_recipe_for(args.recipe), args.overrides)
    result = fit(recipe, progress=not args.no_progress)
    minutes = (time.perf_counter() - start) / 60
    prefix, key = recipe.data.dataset, headline(recipe.eval)
    lines = [f"{prefix}/{k}: {v:.4f}" for k, v in result.items() if k != "best"]
    print("\n".join(lines))
    print(
        f"best {prefix}/{key}: {result['best']:.4f}; total time {minutes:.1f} min; "
        f"weights in {recipe.train.work_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
