"""Run the course notebooks in reading order with papermill (what ``make notebooks`` and the
notebook tests call).

Every ``notebooks/NN_*.ipynb`` runs in numeric order with the working directory
``notebooks/`` (so the notebooks' defaults ``FIG_DIR="../figures"`` and
``RESULTS_DIR="../results"`` write into the repository), in a kernel of this Python
(the project's ``.venv``). Executed copies go to ``--out`` (default ``build/notebooks``).

``--smoke`` sets ``SMOKE=True`` (tiny data, a few iterations: seconds per notebook). With
``--smoke`` and no ``--fig-dir`` / ``--results-dir`` / ``--runs-dir``, those go into a folder
under ``--out`` so that a smoke run never overwrites ``figures/`` or ``results/``. A parameter
is passed only to notebooks that declare it in their ``parameters`` cell.

Wall times go to ``build/notebook_times.json`` (``{"smoke": ..., "full": ...}``: one entry per
notebook, the latest run of each) and this run's outcome to ``OUT/run_status.json``. The exit
status is 1 when any notebook fails; the failures are named at the end. A failed notebook does
not stop the run unless ``--fail-fast`` is given (later notebooks may not need its output).

Usage::

    python tools/run_notebooks.py                          # full run, as `make notebooks`
    python tools/run_notebooks.py --smoke --out /tmp/nb    # smoke run into /tmp/nb
    python tools/run_notebooks.py --only 03 --only 05 -p DATASET casia_fasd -p DATA_ROOT /data/c
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import functools
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"
DEFAULT_TIMES = ROOT / "build" / "notebook_times.json"
KERNEL_NAME = "python3"


@dataclass
class NotebookRun:
    """The outcome of one notebook."""

    name: str
    ok: bool
    seconds: float
    output: str
    error: str = ""
    load_average: float | None = None  # the 1-minute load average when it finished (None: n/a)
    speed: float | None = None  # CNN_S training samples/s just before it ran (speed_probe)
    runs_trained: int | None = None  # finished training runs it added to RUNS_DIR (None: n/a)


def find_notebooks(folder: Path = NOTEBOOK_DIR, only: list[str] | None = None) -> list[Path]:
    """``folder/NN_*.ipynb`` sorted by number, optionally only the numbers in ``only``.

    Raises:
        FileNotFoundError: when no notebook matches.
    """
    paths = sorted(folder.glob(PATTERN))
    if only:
        wanted = {n.zfill(2) for item in only for n in item.split(",") if n}
        paths = [p for p in paths if p.name[:2] in wanted]
        missing = wanted - {p.name[:2] for p in paths}
        if missing:
            raise FileNotFoundError(f"no notebook numbered {sorted(missing)} in {folder}")
    if not paths:
        raise FileNotFoundError(f"no notebooks found: nothing matches {folder / PATTERN}")
    return paths


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value: a Python literal when it parses as one, else the string."""
    if text in ("None", "none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def check_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Return the interpreter the kernel ``kernel_name`` will run; it must be this Python's.

    Raises:
        RuntimeError: when the kernelspec is missing or runs another interpreter (its notebooks
            would not see this environment's packages).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RuntimeError(
            f"no Jupyter kernel {kernel_name!r}: run `make venv` (it installs the kernel with "
            "`python -m ipykernel install --sys-prefix`)") from None
    exe = spec.argv[0]
    # jupyter_client runs a bare "python" / "python3" / "python3.11" as sys.executable
    if exe in {"python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]}:
        exe = sys.executable
    if Path(exe).absolute().parent != Path(sys.executable).absolute().parent:
        raise RuntimeError(
            f"the Jupyter kernel {kernel_name!r} ({spec.resource_dir}) runs {exe}, not this "
            f"environment's {sys.executable}: run `make venv`, or `{sys.executable} -m ipykernel "
            "install --sys-prefix`")
    return exe


def _declared(path: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def _describe_error(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {str(exc.evalue)[:500]}"
    return f"{type(exc).__name__}: {str(exc)[:500]}"


def run_one(path: Path, out_dir: Path, parameters: dict[str, Any], progress: bool,
            kernel_name: str = KERNEL_NAME, start_timeout: int = 120,
            cell_timeout: int | None = None) -> NotebookRun:
    """Execute one notebook into ``out_dir`` (cwd = its folder); never raises on its failure.

    ``cell_timeout`` (seconds) fails a cell that runs longer; None waits indefinitely.
    """
    import papermill

    declared = _declared(path)
    params = {k: v for k, v in parameters.items() if k in declared}
    output = out_dir / path.name
    t0 = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(path), str(output), parameters=params, kernel_name=kernel_name,
            cwd=str(path.parent), progress_bar=progress, start_timeout=start_timeout,
            execution_timeout=cell_timeout)
    except Exception as exc:  # the failure is reported and the run goes on
        error = _describe_error(exc)
    return NotebookRun(path.stem, not error, round(time.perf_counter() - t0, 1), str(output), error,
                       load_average())


@functools.lru_cache(maxsize=1)
def _roofline_benchmark() -> Any:
    """``benchmarks/bench_roofline.py`` as a module, loaded once per process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_roofline", ROOT / "benchmarks" / "bench_roofline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def speed_probe() -> float | None:
    """The machine's speed now, in CNN_S training samples/s (``speed_probe`` of
    ``benchmarks/bench_roofline.py``, about a second; ``None`` when it cannot run): a shared
    machine's speed varies by half between hours, and a notebook's time is read against it."""
    try:
        return round(float(_roofline_benchmark().speed_probe()), 1)
    except Exception as exc:  # a probe that fails costs the record, never the run
        print(f"  (speed probe failed: {exc})", flush=True)
        return None


def load_average() -> float | None:
    """The 1-minute load average (about the number of busy cores; ``None`` where the OS has
    none): near the core count, a notebook ran alone; above it, other jobs shared the cores."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def update_times(times_file: Path, mode: str, runs: list[NotebookRun]) -> dict:
    """Merge this run's wall times into ``times_file`` under ``mode``; return the file's content."""
    try:
        data = json.loads(times_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    entry = data.get(mode, {})
    notebooks = entry.get("notebooks", {})
    now = dt.datetime.now().isoformat(timespec="seconds")
    for run in runs:
        notebooks[run.name] = {"seconds": run.seconds, "ok": run.ok, "finished": now}
    entry["notebooks"] = dict(sorted(notebooks.items()))
    entry["total_s"] = round(sum(v["seconds"] for v in entry["notebooks"].values()), 1)
    entry["all_ok"] = all(v["ok"] for v in entry["notebooks"].values())
    entry["machine"] = machine()
    data[mode] = entry
    times_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = times_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(times_file)
    return data


def machine(cpuinfo: str | None = None) -> dict:
    """The machine a run's times and floats belong to: cores, the processor's name and widest
    vector unit (oneDNN picks its kernels by them, so the floats of training differ between
    processor types), platform, Python. ``cpuinfo``: ``/proc/cpuinfo``'s text (read when None;
    absent off Linux)."""
    from fas_lib.core.utils import cpu_facts

    facts = cpu_facts(cpuinfo)
    vector = next((v for v in ("avx512f", "avx2", "avx", "sse4_2") if v in facts["flags"]), None)
    return {"cpu_cores": os.cpu_count(),
            "cpu": facts["cpu"] or platform.processor() or None,
            "vector_isa": vector, "platform": platform.platform(),
            "python": platform.python_version()}


def count_runs(runs_dir: Path) -> int:
    """Finished training runs (folders with a ``results.json``) in ``runs_dir``."""
    return sum(1 for f in runs_dir.glob("*/results.json")) if runs_dir.is_dir() else 0


def suite_record(runs: list[NotebookRun], total_s: float, data_dir: str | None,
                 runs_before: int, runs_after: int) -> dict:
    """What ``results/notebook_suite.json`` holds after a complete full run of every notebook.

    ``runs_reused`` tells a from-scratch suite (0: every model trained in this run) from one
    that read earlier runs back from ``runs/``; ``load_average``, per notebook, whether it had
    the cores to itself; ``speed``, per notebook, how fast the machine trained CNN_S just before
    it (:func:`speed_probe`); ``runs_trained_per_notebook``, which notebook trained how many of the
    models (a run another notebook already trained is read back, not counted again).
    """
    return {
        "mode": "full",
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "notebooks": {r.name: round(r.seconds, 1) for r in runs},
        "load_average": {r.name: r.load_average for r in runs if r.load_average is not None},
        "speed": {r.name: r.speed for r in runs if r.speed is not None},
        "runs_trained_per_notebook": {r.name: r.runs_trained for r in runs
                                      if r.runs_trained is not None},
        "total_s": round(total_s, 1),
        "all_ok": all(r.ok for r in runs),
        "data_dir": data_dir or "~/.cache/fas_lib (default)",
        "runs_reused": runs_before,
        "runs_trained": runs_after - runs_before,
        "machine": machine(),
    }


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    p = argparse.ArgumentParser(description="Run notebooks/NN_*.ipynb in order with papermill.")
    p.add_argument("--smoke", action="store_true", help="SMOKE=True: tiny data, seconds each")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the executed notebooks (default build/notebooks, "
                        "build/notebooks-smoke with --smoke)")
    p.add_argument("--fig-dir", type=Path, help="FIG_DIR (default: the notebooks' ../figures; "
                   "with --smoke OUT/figures)")
    p.add_argument("--results-dir", type=Path, help="RESULTS_DIR (default: ../results; with "
                   "--smoke OUT/results)")
    p.add_argument("--runs-dir", type=Path, help="RUNS_DIR of the training notebooks (default: "
                   "../runs; with --smoke OUT/runs)")
    p.add_argument("--data-dir", type=Path, help="FAS_DATA_DIR for the kernels: where SynthSpoof "
                   "and the crop caches live (default: $FAS_DATA_DIR or ~/.cache/fas_lib)")
    p.add_argument("--only", action="append", metavar="NN",
                   help="run only notebook NN (repeat, or NN,MM)")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="another notebook parameter (Python literal)")
    p.add_argument("--times", type=Path, default=DEFAULT_TIMES,
                   help=f"wall-time file (default {DEFAULT_TIMES.relative_to(ROOT)})")
    p.add_argument("--cell-timeout", type=int, default=None, metavar="S",
                   help="fail a cell that runs longer than S seconds (default: no limit)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing notebook")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the notebooks; return 0 when all succeeded, 1 when one failed, 2 on bad usage."""
    args = build_parser().parse_args(argv)
    try:
        paths = find_notebooks(only=args.only)
        kernel_python = check_kernel()
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mode = "smoke" if args.smoke else "full"
    out = (args.out or ROOT / "build" / ("notebooks-smoke" if args.smoke else "notebooks"))
    out = out.absolute()
    out.mkdir(parents=True, exist_ok=True)

    parameters: dict[str, Any] = {"SMOKE": bool(args.smoke)}
    for name, sub, folder in (("FIG_DIR", "figures", args.fig_dir),
                              ("RESULTS_DIR", "results", args.results_dir),
                              ("RUNS_DIR", "runs", args.runs_dir)):
        if folder is None and args.smoke:
            folder = out / sub
        if folder is not None:
            folder = folder.absolute()
            folder.mkdir(parents=True, exist_ok=True)
            parameters[name] = str(folder)
    parameters.update({name: parse_value(value) for name, value in args.param})
    os.environ["FAS_NONINTERACTIVE"] = "1"  # widgets draw their static fallback figure
    if args.data_dir is not None:
        os.environ["FAS_DATA_DIR"] = str(args.data_dir.absolute())

    progress = not args.no_progress and sys.stderr.isatty()
    shown = {k: v for k, v in parameters.items() if k != "SMOKE"}
    print(f"{mode} run of {len(paths)} notebook(s) -> {out}\n  kernel python: {kernel_python}\n"
          f"  parameters: SMOKE={parameters['SMOKE']} {shown or '(notebook defaults)'}\n"
          f"  data: {os.environ.get('FAS_DATA_DIR', '~/.cache/fas_lib (default)')}", flush=True)
    runs: list[NotebookRun] = []
    runs_dir = Path(parameters.get("RUNS_DIR", ROOT / "runs"))
    runs_before = runs_now = count_runs(runs_dir)
    t0 = time.perf_counter()
    for i, path in enumerate(paths, 1):
        speed = None if args.smoke else speed_probe()
        print(f"[{i}/{len(paths)}] {path.name} ..."
              + (f" (machine: {speed:.0f} CNN_S samples/s)" if speed else ""), flush=True)
        run = run_one(path, out, parameters, progress, cell_timeout=args.cell_timeout)
        run.speed = speed
        after = count_runs(runs_dir)  # the next notebook's "before"
        run.runs_trained, runs_now = after - runs_now, after
        runs.append(run)
        status = "ok" if run.ok else f"FAILED ({run.error})"
        print(f"[{i}/{len(paths)}] {path.name}: {status} in {run.seconds:.1f} s", flush=True)
        status_file = {"mode": mode, "parameters": parameters, "out": str(out),
                       "data_dir": os.environ.get("FAS_DATA_DIR"),
                       "runs": [asdict(r) for r in runs]}
        (out / "run_status.json").write_text(json.dumps(status_file, indent=2) + "\n",
                                             encoding="utf-8")
        update_times(args.times, mode, [run])
        if not run.ok and args.fail_fast:
            break
    total = time.perf_counter() - t0
    print(f"\n{'notebook':<32} {'seconds':>8}  status")
    for run in runs:
        print(f"{run.name:<32} {run.seconds:>8.1f}  {'ok' if run.ok else 'FAILED'}")
    print(f"{'total':<32} {total:>8.1f}  (times in {args.times})")
    failed = [r for r in runs if not r.ok]
    complete = not args.smoke and not args.only and len(runs) == len(find_notebooks())
    if complete and not failed and args.results_dir is None and not args.param:
        # a full run of the whole suite with the committed defaults: its wall time is a result
        record = suite_record(runs, total, os.environ.get("FAS_DATA_DIR"), runs_before,
                              runs_now)
        target = ROOT / "results" / "notebook_suite.json"
        target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"suite wall time written to {target.relative_to(ROOT)}")
    if failed:
        print(f"\n{len(failed)} notebook(s) failed:", file=sys.stderr)
        for run in failed:
            print(f"  {run.name}: {run.error}\n    executed copy: {run.output}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
