"""Which part of the ``robust`` recipe hurts under a shift -> ``results/recipe_ablation.json``
and ``figures/07_recipe_ablation.png``.

CNN_S at one scale trained with each recipe of :data:`fas_lib.studies.recipes.RECIPES` (the default
``cpu``, each part of ``robust`` added on its own, ``robust``, and ``robust`` with one part
removed) on SynthSpoof's shift protocols, over several seeds
(:func:`fas_lib.studies.recipes.recipe_ablation`; finished runs in ``--runs-dir`` are read back, so
notebook 07's ``cpu`` and ``robust`` runs are reused). Writes every run's row, the per-recipe means
with their seed spread and each recipe's effect against ``cpu`` seed by seed.

Usage::

    python tools/recipe_ablation.py                          # standard, p1, p3 (1 fold), seeds 0 1
    python tools/recipe_ablation.py --scale 1.5 --seeds 0 1
    python tools/recipe_ablation.py --dataset csv --root /data/release --protocols standard

About 40 minutes for the default grid (13 recipes x 3 protocols x 2 seeds = 78 CNN_S runs of
10 epochs, the cpu preset's schedule then; 4 since issue 24) on 2 CPU cores, measured with
other jobs on the cores; finished runs are reused.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _plot(summary, fig_dir: Path, name: str) -> None:
    """Test EER per recipe (mean and seed sd), one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = list(dict.fromkeys(summary["protocol"]))
    fig, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 4.2),
                             sharey=True, squeeze=False)
    for ax, p in zip(axes[0], protocols, strict=True):
        sub = summary[summary["protocol"] == p]
        y = range(len(sub))
        ax.barh(list(y), 100 * sub["test_eer"], xerr=100 * sub["test_eer_sd"].fillna(0),
                color=["0.6" if r == "cpu" else "tab:blue" for r in sub["recipe"]])
        ax.axvline(100 * float(sub.loc[sub["recipe"] == "cpu", "test_eer"].iloc[0]),
                   color="k", lw=0.8, ls="--")
        ax.set_yticks(list(y), list(sub["recipe"]))
        ax.invert_yaxis()
        ax.set_title(p)
        ax.set_xlabel("test EER % (mean, sd over seeds)")
    from fas_lib.viz.plots import save_fig

    fig.tight_layout()
    save_fig(fig, name, fig_dir)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--protocols", nargs="+", default=("standard", "p1", "p3"))
    p.add_argument("--max-folds", type=int, default=1, help="folds of p3 / p4 / loao")
    p.add_argument("--seeds", type=int, nargs="+", default=(0, 1))
    p.add_argument("--recipes", nargs="+", default=None, help="names in fas_lib.studies.recipes.RECIPES")
    p.add_argument("--dataset", default="synthspoof")
    p.add_argument("--root", default=None, help="dataset root (None: SynthSpoof is generated)")
    p.add_argument("--smoke", action="store_true", help="tiny data, one epoch (a check)")
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    p.add_argument("--results-dir", type=Path, default=ROOT / "results")
    p.add_argument("--figures-dir", type=Path, default=ROOT / "figures")
    p.add_argument("--data-dir", type=Path, default=None, help="sets FAS_DATA_DIR")
    args = p.parse_args(argv)
    if args.data_dir is not None:
        os.environ["FAS_DATA_DIR"] = str(args.data_dir.resolve())

    from fas_lib.cache.prepare import get_cache
    from fas_lib.core.utils import environment_line, save_results
    from fas_lib.studies import generalise, recipes

    names = tuple(args.recipes or recipes.RECIPES)
    try:
        cache = get_cache(args.dataset, args.root, smoke=args.smoke)
        pf = generalise.protocol_folds(cache, args.protocols, max_folds=args.max_folds)
        df = recipes.recipe_ablation(cache, pf, scale=args.scale, recipes=names,
                                     seeds=args.seeds, out_root=args.runs_dir,
                                     smoke=args.smoke, dataset=args.dataset, root=args.root)
    except (FileNotFoundError, ValueError) as exc:
        print(f"recipe_ablation: {exc}", file=sys.stderr)
        return 2
    summary = recipes.recipe_summary(df)
    effects = recipes.recipe_effects(df) if "cpu" in names else None
    stem = "recipe_ablation" + ("_smoke" if args.smoke else "")
    save_results({"dataset": args.dataset, "scale": args.scale, "seeds": list(args.seeds),
                  "protocol_folds": pf,  # tuples are written as lists (save_results)
                  "recipes": {n: {"preset": recipes.RECIPES[n][0], **recipes.RECIPES[n][1]}
                              for n in names},
                  "smoke": args.smoke, "level": "frame",
                  "runs": df.drop(columns=["run_dir"]).to_dict("records"),
                  "summary": summary.to_dict("records"),
                  "effects": None if effects is None else effects.to_dict("records"),
                  "environment": environment_line()}, stem, args.results_dir)
    _plot(summary, args.figures_dir, f"07_{stem}")
    cols = ["protocol", "recipe", "test_eer", "test_eer_sd", "dev_eer", "apcer_print",
            "apcer_replay", "train_loss"]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if effects is not None:
        print(effects.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    print(f"wrote {args.results_dir / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
