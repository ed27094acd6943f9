"""Table III for one scale group under several training seeds -> ``results/seed_spread.json``.

Notebook 06 trains every model once (seed 0), so a difference of a few tenths of an EER point
between two fusions may be luck. This script retrains one group's single-scale, Average,
Concat and MS-FANS runs with more seeds (:func:`fas_lib.studies.significance.seed_spread`; finished
runs in ``--runs-dir`` are read back, so seed 0 reuses notebook 06's) and writes the test EER of
every (fusion, seed) with its mean, standard deviation and range. ``tools/readme_tables.py``
puts the result under the README's Table III.

Usage::

    python tools/seed_spread.py                                  # [0.9,1.0,1.1], seeds 0 1 2
    python tools/seed_spread.py --group 1.3 1.4 1.5 --seeds 0 1 2 3
    python tools/seed_spread.py --dataset casia_fasd --root /data/CASIA-FASD

About 3-4 minutes per new seed for CNN_S on the default SynthSpoof data (2 CPU cores).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--group", type=float, nargs=3, default=(0.9, 1.0, 1.1), metavar="SCALE")
    p.add_argument("--seeds", type=int, nargs="+", default=(0, 1, 2))
    p.add_argument("--dataset", default="synthspoof")
    p.add_argument("--root", default=None, help="dataset root (None: SynthSpoof is generated)")
    p.add_argument("--protocol", default=None)
    p.add_argument("--fold", default=None)
    p.add_argument("--backbone", default="cnn_s", choices=("cnn_s", "cnn_d"))
    p.add_argument("--preset", default="cpu", choices=("cpu", "paper"))
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    p.add_argument("--results-dir", type=Path, default=ROOT / "results")
    p.add_argument("--data-dir", type=Path, default=None, help="sets FAS_DATA_DIR")
    args = p.parse_args(argv)
    fold = int(args.fold) if args.fold is not None and str(args.fold).isdigit() else args.fold
    if args.data_dir is not None:
        os.environ["FAS_DATA_DIR"] = str(args.data_dir.resolve())

    from fas_lib.cache.prepare import get_cache
    from fas_lib.core.utils import environment_line, save_results
    from fas_lib.studies import significance as analysis

    try:
        cache = get_cache(args.dataset, args.root, protocol=args.protocol, fold=fold)
        spread = analysis.seed_spread(
            cache, group=args.group, seeds=args.seeds, backbone=args.backbone,
            preset=args.preset, out_root=args.runs_dir, dataset=args.dataset, root=args.root,
            protocol=args.protocol, fold=fold,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"seed_spread: {exc}", file=sys.stderr)
        return 2
    n_test = int((cache.table["split"] == "test").sum())
    save_results({**spread, "dataset": args.dataset, "protocol": args.protocol, "smoke": False,
                  "level": "frame", "n_test": n_test, "environment": environment_line()},
                 "seed_spread", args.results_dir)
    names = {"best_single": "best single", "average": "Average", "concat": "Concat",
             "msfans": "MS-FANS"}
    print(f"test EER (%) of {args.backbone} on {args.dataset}, group {list(args.group)}")
    print(f"{'':12s}" + "".join(f"{'seed ' + str(s):>9s}" for s in spread["seeds"])
          + f"{'mean':>8s}{'sd':>7s}")
    for f, by_seed in spread["test_eer"].items():
        st = spread["stats"][f]
        print(f"{names[f]:12s}" + "".join(f"{100 * by_seed[str(s)]:9.2f}" for s in spread["seeds"])
              + f"{100 * st['mean']:8.2f}{100 * st['std']:7.2f}")
    print(f"wrote {args.results_dir / 'seed_spread.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
