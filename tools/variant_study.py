"""Which change of SynthSpoof's design moves the models (issue 21) -> ``results/variant_study.json``
and ``figures/07_variant_study.png``.

The generator's variants (:func:`fas_lib.studies.generalise.default_variants`: the default data, one
variant per factor of SynthSpoof 2.0 fixed at one level, all of them fixed) are generated and
cached; CNN_S at ``--scale`` and MS-FANS on ``--group`` are trained on each and scored on every
variant's test split, and on a real dataset's when ``--real-dataset`` / ``--real-root`` are
given (:func:`fas_lib.studies.generalise.variant_study`). The row of the real dataset is what
answers the issue's question (which variant transfers best to real media); the variant-by-variant
block says which factor the models learn to depend on.

Usage::

    python tools/variant_study.py --subjects 24 --gt-boxes           # 12 min measured (2 cores)
    python tools/variant_study.py                                    # the default 40 subjects
    python tools/variant_study.py --subjects 20                      # a quicker, smaller look
    python tools/variant_study.py --real-dataset csv --real-root /data/release

Finished generations, caches, runs and cross-scorings are reused (``--runs-dir``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _plot(matrices: dict, fig_dir: Path, name: str) -> None:
    """One heatmap (trained on x scored on, test HTER %) per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(matrices), figsize=(6.2 * len(matrices), 4.8),
                             squeeze=False)
    for ax, (model, m) in zip(axes[0], matrices.items(), strict=True):
        im = ax.imshow(m.to_numpy(), cmap="viridis_r", vmin=0, vmax=50)
        ax.set_xticks(range(m.shape[1]), m.columns, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(m.shape[0]), m.index, fontsize=8)
        for (i, j), v in np.ndenumerate(m.to_numpy()):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                    color="w" if v > 25 else "k")
        ax.set_xlabel("scored on (test split)")
        ax.set_ylabel("trained on")
        ax.set_title(f"{model}: test HTER %")
        fig.colorbar(im, ax=ax, fraction=0.04)
    from fas_lib.viz.plots import save_fig

    fig.tight_layout()
    save_fig(fig, name, fig_dir)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--group", type=float, nargs="+", default=(0.9, 1.0, 1.1))
    p.add_argument("--recipe", default="cpu", help="preset of the runs (cpu, robust, paper)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subjects", type=int, default=None,
                   help="subjects of every variant (default: the default data's 40)")
    p.add_argument("--real-dataset", default=None, help="a real dataset scored too (adapter)")
    p.add_argument("--real-root", default=None)
    p.add_argument("--smoke", action="store_true", help="tiny variants, one epoch (a check)")
    p.add_argument("--gt-boxes", action="store_true",
                   help="crop the variants with the generator's face boxes (faster; a real "
                        "dataset is always cropped with the detector, so leave it off when "
                        "one is scored)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    p.add_argument("--results-dir", type=Path, default=ROOT / "results")
    p.add_argument("--figures-dir", type=Path, default=ROOT / "figures")
    p.add_argument("--data-dir", type=Path, default=None, help="sets FAS_DATA_DIR")
    args = p.parse_args(argv)
    if args.data_dir is not None:
        os.environ["FAS_DATA_DIR"] = str(args.data_dir.resolve())
    if (args.real_dataset is None) != (args.real_root is None):
        p.error("--real-dataset and --real-root go together")

    from fas_lib.cache.prepare import get_cache, smoke_synth_config
    from fas_lib.core.utils import environment_line, save_results
    from fas_lib.studies import generalise
    from fas_lib.synthspoof import SynthConfig

    base = smoke_synth_config() if args.smoke else SynthConfig()
    if args.subjects is not None:
        base = dataclasses.replace(base, n_subjects=args.subjects)
    variants = generalise.default_variants(base)
    scales = sorted({args.scale, *args.group})
    try:
        others = {} if args.real_dataset is None else {
            args.real_dataset: get_cache(args.real_dataset, args.real_root, smoke=args.smoke,
                                         scales=scales, workers=args.workers)}
        study = generalise.variant_study(
            variants, args.scale, args.group, recipe=args.recipe, seed=args.seed,
            out_root=args.runs_dir, smoke=args.smoke, progress=True, workers=args.workers,
            use_gt_boxes=args.gt_boxes, others=others)
    except (FileNotFoundError, ValueError) as exc:
        print(f"variant_study: {exc}", file=sys.stderr)
        return 2
    models = list(dict.fromkeys(study["model"]))
    matrices = {m: generalise.variant_matrix(study, m) for m in models}
    stem = "variant_study" + ("_smoke" if args.smoke else "")
    save_results({"scale": args.scale, "group": list(args.group), "recipe": args.recipe,
                  "seed": args.seed, "smoke": args.smoke, "level": "frame",
                  "variants": {n: {"fixed_factors": list(c.fixed_factors),
                                   "n_subjects": c.n_subjects} for n, c in variants.items()},
                  "others": list(others),
                  "boxes": "generator's" if args.gt_boxes else "dlib's detector",
                  "rows": study.drop(columns=["run_dir", "train_run"]).to_dict("records"),
                  "environment": environment_line()}, stem, args.results_dir)
    _plot(matrices, args.figures_dir, f"07_{stem}")
    for m, table in matrices.items():
        print(f"{m}: test HTER % (rows: trained on, columns: scored on)")
        print(table.round(2).to_string())
    print(f"wrote {args.results_dir / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
