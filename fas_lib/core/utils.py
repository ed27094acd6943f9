"""Seeds, devices, folders and the results files every notebook writes."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and (when installed) PyTorch for a reproducible run.

    Args:
        seed: any non-negative integer.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # torch is optional for the data-only parts
        return
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Python / NumPy / torch RNG states as tensors and lists (``weights_only``-loadable), for
    checkpoints (:func:`set_rng_state` restores them)."""
    import torch

    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                  int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNG states :func:`rng_state` returned."""
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: What :func:`tune_malloc` asks glibc's ``mallopt`` for (``malloc.h`` parameter -> bytes).
MALLOC_TUNING: dict[str, int] = {
    "M_TRIM_THRESHOLD": 1 << 30,  # keep up to 1 GiB of freed memory at the top of the heap
    "M_TOP_PAD": 256 << 20,  # grow the heap in steps of 256 MiB
    "M_MMAP_THRESHOLD": 1 << 30,  # serve blocks below 1 GiB from the heap, not from mmap
}
_MALLOPT_PARAM = {"M_TRIM_THRESHOLD": -1, "M_TOP_PAD": -2, "M_MMAP_THRESHOLD": -3}
_malloc_tuned: bool | None = None


def tune_malloc() -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel every step.

    A CPU training step allocates and frees the same large activation buffers (megabytes for
    CNN_S, over 100 MB for CNN_D's first layers) every iteration. With glibc's defaults those
    blocks are mmap-ed and unmapped, or trimmed off the heap, each time, and the kernel
    zero-fills their pages again when the next step touches them: on the course's 2-core
    machine that kernel time was a third or more of CNN training, and the tuned allocator
    trains about twice as fast (``benchmarks/bench_malloc.py``). :data:`MALLOC_TUNING` keeps
    such blocks in the heap; the price is a resident size that stays near the largest step's
    peak between steps.

    Process-wide and idempotent; :func:`fas_lib.training.frames.run_experiment` calls it. A no-op
    that returns ``False`` off Linux/glibc (macOS, Windows, musl) or when the environment variable
    ``FAS_MALLOC_TUNING`` is ``"0"``.

    Returns:
        Whether the tuning is in effect in this process.
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    ok = False
    if os.environ.get("FAS_MALLOC_TUNING", "1") != "0" and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None)
        except OSError:
            libc = None
        if libc is not None and hasattr(libc, "gnu_get_libc_version"):  # glibc, not musl
            ok = all(libc.mallopt(_MALLOPT_PARAM[k], v) == 1 for k, v in MALLOC_TUNING.items())
    _malloc_tuned = ok
    return ok


def get_device(prefer: str | None = None) -> str:
    """Return ``"cuda"`` when a GPU is present (or ``prefer`` says so), else ``"cpu"``.

    Args:
        prefer: force a device name such as ``"cpu"``; ``None`` or ``"auto"`` picks
            automatically.
    """
    if prefer and prefer != "auto":
        return prefer
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


#: Packages whose versions :func:`environment` reports (import name -> display name).
_PACKAGES: dict[str, str] = {
    "torch": "torch", "cv2": "opencv", "dlib": "dlib", "numpy": "numpy", "pandas": "pandas",
    "matplotlib": "matplotlib", "fas_lib": "fas_lib",
}


def environment(packages: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Versions and machine facts a results file or a notebook head records.

    Keys: ``python``, ``platform``, one per package of :data:`_PACKAGES` (``"missing"`` when it
    cannot be imported), ``device`` (:func:`get_device`), ``cpu_cores`` and ``torch_threads``.

    Args:
        packages: only these display names of :data:`_PACKAGES` and no device or thread facts
            (which import PyTorch); ``None``: everything.
    """
    import importlib
    import platform

    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for module, name in _PACKAGES.items():
        if packages is not None and name not in packages:
            continue
        try:
            env[name] = str(importlib.import_module(module).__version__)
        except ImportError:
            env[name] = "missing"
    if packages is not None:
        return env
    env["device"] = get_device()
    env["cpu_cores"] = os.cpu_count()
    try:
        import torch

        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        env["torch_threads"] = None
    return env


def cpu_facts(cpuinfo: str | None = None) -> dict[str, Any]:
    """The processor as ``/proc/cpuinfo`` describes it (its first core's lines).

    Returns ``cpu`` (the model name; ``None`` when the text has none), ``flags`` (a frozenset:
    ``avx2``, ``avx512f``, ``fma`` ...) and ``mhz`` (every core's current clock, MHz).

    Args:
        cpuinfo: the file's text; ``None``: read it (empty where there is none, off Linux).
    """
    import re

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    name = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    return {"cpu": name.group(1).strip() if name else None,
            "flags": frozenset(flags.group(1).split()) if flags else frozenset(),
            "mhz": [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo,
                                                 re.MULTILINE)]}


def environment_line(keys: tuple[str, ...] = ("python", "torch", "opencv", "dlib", "fas_lib",
                                              "device", "cpu_cores", "torch_threads")) -> str:
    """One line for a notebook's first cell, e.g. ``python 3.11.7 | torch 2.14.1 | ...``."""
    env = environment()
    names = {"cpu_cores": "cores", "torch_threads": "threads"}
    return " | ".join(f"{names.get(k, k)} {env[k]}" for k in keys)


def data_dir() -> Path:
    """The folder that holds generated data and preprocessing caches.

    ``$FAS_DATA_DIR`` when set, else ``~/.cache/fas_lib``.
    """
    env = os.environ.get("FAS_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fas_lib"


#: The repository checkout ``fas_lib`` lives in (its ``figures/``, ``results/``, ``build/``).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The committed output folders that a smoke run must not overwrite.
COMMITTED_OUTPUTS = ("figures", "results")


def human_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"`` (powers of 1024, as ``du -h`` counts)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def smoke_output_dirs(smoke: bool, *dirs: str | Path) -> tuple[str, ...]:
    """A notebook's output folders, moved aside for a smoke run.

    With ``smoke`` true, a folder that is the repository's committed ``figures/`` or
    ``results/`` becomes ``build/smoke/figures`` or ``build/smoke/results`` (and a line says
    so): tiny smoke numbers never overwrite the committed ones. Other folders, and every folder
    of a full run, are returned unchanged (``tools/run_notebooks.py --smoke`` and the tests
    pass their own folders).

    Args:
        smoke: the notebook's ``SMOKE`` parameter.
        *dirs: the notebook's ``FIG_DIR``, ``RESULTS_DIR``...; relative ones are taken from
            the current folder (a notebook's is ``notebooks/``).

    Returns:
        The folders to use, as strings, in the order given.
    """
    out = []
    for d in dirs:
        path = Path(d).expanduser().resolve()
        hit = next((name for name in COMMITTED_OUTPUTS if path == REPO_ROOT / name), None)
        if smoke and hit is not None:
            moved = REPO_ROOT / "build" / "smoke" / hit
            print(f"SMOKE: writing {hit} to {moved} (the committed {hit}/ stays as it is)")
            out.append(str(moved))
        else:
            out.append(str(d))
    return tuple(out)


def _to_jsonable(obj: Any) -> Any:
    """Plain JSON values; NaN and infinities (not JSON) become ``None``."""
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path in ``path``'s folder, rename it on success.

    The one write-to-temp-then-rename of the package: checkpoints, cache arrays and shards,
    results and manifests all go through it, so a reader never sees half a file and an
    interrupted writer leaves the previous file (or none) in place::

        with atomic_path(out / "crops.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, crops)   # a file object: np.save appends ".npy" to a bare path

    Args:
        path: the final file; its folder is created if missing.

    Yields:
        A temporary path (``.<name>.<random>.tmp`` beside ``path``) that does not exist yet.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_results(obj: dict[str, Any], name: str, results_dir: str | Path = "results") -> Path:
    """Write a notebook's numbers to ``results_dir/name.json`` (atomically).

    Args:
        obj: a JSON-serialisable mapping; NumPy scalars and arrays are converted.
        name: file stem, starting with the notebook number, e.g. ``"01_alignment"``.
        results_dir: destination folder, created if missing.

    Returns:
        The path written.
    """
    path = Path(results_dir) / f"{name}.json"
    text = json.dumps(_to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def load_results(name: str, results_dir: str | Path = "results") -> dict[str, Any]:
    """Read back a file written by :func:`save_results`."""
    return json.loads((Path(results_dir) / f"{name}.json").read_text(encoding="utf-8"))


def guard_params(path: str | Path, params: dict[str, Any], overwrite: bool = False
                 ) -> dict[str, Any]:
    """Record the parameters a resumable output folder is made with, refusing other ones.

    Args:
        path: the JSON file that records them (its other keys are kept apart and ignored).
        params: the parameters of this call (JSON-serialisable).
        overwrite: accept parameters other than the recorded ones (the caller redoes its work).

    Returns:
        ``params`` as JSON reads them back (tuples as lists), now written to ``path``.

    Raises:
        ValueError: ``path`` records another value of a key of ``params`` (without
            ``overwrite``): outputs kept from that call would not match this one.
    """
    new, path = json.loads(json.dumps(params)), Path(path)
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else new
    changed = sorted(k for k in new if old.get(k) != new[k])
    if changed and not overwrite:
        raise ValueError(f"{path.parent} holds outputs made with another {', '.join(changed)} "
                         f"({path.name}); pass overwrite=True or use another folder")
    atomic_write_text(path, json.dumps(new, indent=1))
    return new
