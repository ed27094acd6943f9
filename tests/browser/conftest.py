"""Fixtures of the browser test: smoke data, one JupyterLab server, one headless Chromium.

Only ``make test-browser`` (``pytest tests/browser --run-browser``) runs these tests; any other
pytest run skips them with the reason. Chromium and its driver are Debian's ``chromium`` and
``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``; override with
``$FAS_CHROMIUM`` / ``$FAS_CHROMEDRIVER``): Selenium is given both paths, so Selenium Manager
never downloads anything.

Session layout, everything on 127.0.0.1:

1. data and training runs: ``--smoke-run DIR`` reuses a finished notebook smoke run (its
   ``data/`` = ``FAS_DATA_DIR`` and ``runs/``), else the newest one ``make test`` left in
   ``build/notebook-smoke/`` (:func:`finished_smoke_run`); otherwise
   ``tools/run_notebooks.py --smoke`` runs :data:`PREREQUISITES` headless into
   ``build/browser/smoke/`` (the SynthSpoof data, the
   crop cache and notebook 05's MS-FANS run, which the browser's notebook 05 then reads back);
2. notebooks 02 and 05 are copied into a temporary folder with papermill ``prepare_only``
   (parameters injected, nothing executed): ``SMOKE=True`` and the folders of step 1;
3. ``jupyter lab`` serves that folder (random port and token, fresh settings and workspaces,
   news and update checks off) with ``PYTHONPATH`` = this repository, so the kernel imports
   this checkout's ``fas_lib``;
4. headless Chromium opens each notebook (the tests in ``test_widgets.py`` drive it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import read_run_status  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "browser"  # screenshots, timings.json, console.json, figures/
CHROMIUM = os.environ.get("FAS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FAS_CHROMEDRIVER", "/usr/bin/chromedriver")
#: notebooks run headless first: SynthSpoof data (00), the crop cache (02) and the MS-FANS
#: run notebook 05 reads back (05) -- the browser then re-runs 02 and 05 on them
PREREQUISITES = ("00", "02", "05")
NOTEBOOKS = {"02": "02_multiscale_crops", "05": "05_lstm_fusion"}
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                  "--disable-dev-shm-usage")


def chromium_missing() -> str | None:
    """Why the browser test cannot run here (``None`` when Chromium and its driver are found)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (f"no Chromium found ({', '.join(missing)} missing): "
                "apt-get install chromium chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the browser tests unless ``--run-browser`` is given (``make test-browser``)."""
    here = Path(__file__).parent
    ours = [i for i in items if here in Path(str(i.fspath)).parents]
    if not ours:
        return
    if not config.getoption("--run-browser"):
        reason = "browser test: run it with `make test-browser` (pytest --run-browser)"
    elif (why := chromium_missing()) is not None:
        pytest.exit(f"make test-browser: {why}", returncode=1)
    else:
        return
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


def echo(config: pytest.Config, text: str) -> None:
    """Print past pytest's output capture (progress of the long fixtures)."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text, flush=True)
        return
    with capman.global_and_fixture_disabled():
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


@pytest.fixture(scope="session")
def out_dir() -> Path:
    """``build/browser/``, emptied of the previous run's screenshots."""
    OUT.mkdir(parents=True, exist_ok=True)
    for old in list(OUT.glob("*.png")) + list(OUT.glob("figures/*.png")):
        old.unlink()
    (OUT / "figures").mkdir(exist_ok=True)
    return OUT


@pytest.fixture(scope="session")
def timings(out_dir: Path, request: pytest.FixtureRequest):
    """``{what: ms or s}`` the tests fill; printed and written to timings.json at the end."""
    data: dict[str, float] = {}
    t0 = time.perf_counter()
    yield data
    data["session_s"] = round(time.perf_counter() - t0, 1)
    (out_dir / "timings.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    echo(request.config, "\nbrowser timings (build/browser/timings.json):\n"
         + "\n".join(f"  {k}: {v}" for k, v in data.items()))


@pytest.fixture(scope="session")
def console(out_dir: Path):
    """The browser console entries of every notebook; written to console.json at the end."""
    entries: list[dict] = []
    yield entries
    (out_dir / "console.json").write_text(json.dumps(entries, indent=2) + "\n",
                                          encoding="utf-8")


@pytest.fixture(scope="session")
def smoke_dirs(request: pytest.FixtureRequest) -> dict[str, Path]:
    """``{"data": FAS_DATA_DIR, "runs": RUNS_DIR}`` of a smoke run that has 05's MS-FANS run."""
    given = request.config.getoption("--smoke-run")
    if given:
        folder = Path(given).absolute()
        if not (folder / "data").is_dir() or not (folder / "runs").is_dir():
            pytest.fail(f"--smoke-run {given}: no data/ and runs/ folders there")
        return {"data": folder / "data", "runs": folder / "runs"}
    reuse = finished_smoke_run()
    if reuse is not None:  # make test's smoke run (what CI has just made): no second run
        echo(request.config, f"\nreusing the smoke run {reuse.relative_to(ROOT)}")
        return {"data": reuse / "data", "runs": reuse / "runs"}
    folder = OUT / "smoke"
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--smoke", "--no-progress",
           "--out", str(folder / "notebooks"), "--fig-dir", str(folder / "figures"),
           "--results-dir", str(folder / "results"), "--runs-dir", str(folder / "runs"),
           "--data-dir", str(folder / "data"), "--cell-timeout", "600",
           "--times", str(folder / "notebook_times.json"), "--fail-fast",
           "--only", ",".join(PREREQUISITES)]
    echo(request.config, f"\nheadless smoke run of notebooks {', '.join(PREREQUISITES)} -> "
                         f"{folder.relative_to(ROOT)}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_kernel_env())
    (folder / "log.txt").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        pytest.fail(f"the headless smoke run failed ({folder / 'log.txt'}):\n"
                    f"{(proc.stdout + proc.stderr)[-3000:]}")
    echo(request.config, f"  done in {time.perf_counter() - t0:.0f} s")
    return {"data": folder / "data", "runs": folder / "runs"}


def finished_smoke_run(root: Path = ROOT) -> Path | None:
    """The newest ``build/notebook-smoke/run-*`` (``make test``'s) in which the notebooks of
    :data:`PREREQUISITES` all ran fine, with its ``data/`` and ``runs/``; ``None`` if none."""
    for folder in sorted((root / "build" / "notebook-smoke").glob("run-*"), reverse=True):
        if not (folder / "data").is_dir() or not (folder / "runs").is_dir():
            continue
        runs, _ = read_run_status(folder)
        if set(PREREQUISITES) <= {name[:2] for name, r in runs.items() if r.get("ok")}:
            return folder
    return None


def _kernel_env(**extra: str) -> dict[str, str]:
    """This environment for a kernel that shows widgets: this checkout's fas_lib first, and
    neither the tests' ``FAS_NONINTERACTIVE`` nor their ``MPLBACKEND=Agg``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FAS_NONINTERACTIVE", "MPLBACKEND", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in
                                                      env.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p])
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(serve: Path, smoke: dict[str, Path]) -> None:
    """Parameterised, unexecuted copies of notebooks 02 and 05 in ``serve``."""
    import papermill

    params = {"SMOKE": True, "FIG_DIR": str(serve / "figures"),
              "RESULTS_DIR": str(serve / "results"), "RUNS_DIR": str(smoke["runs"])}
    for name in NOTEBOOKS.values():
        src = ROOT / "notebooks" / f"{name}.ipynb"
        declared = set(papermill.inspect_notebook(str(src)))
        papermill.execute_notebook(str(src), str(serve / f"{name}.ipynb"), prepare_only=True,
                                   kernel_name="python3", progress_bar=False,
                                   parameters={k: v for k, v in params.items() if k in declared})


# Settings of the fresh JupyterLab profile: no news / update toasts over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


class Lab:
    """A running ``jupyter lab`` on 127.0.0.1: its URL, token and REST helpers."""

    def __init__(self, serve: Path, port: int, token: str, proc: subprocess.Popen, log: Path):
        self.serve, self.port, self.token, self.proc, self.log = serve, port, token, proc, log
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}.ipynb?reset&token={self.token}"

    def kernels(self) -> list[dict]:
        """The running kernels. The server can answer 500 while a kernel is still starting
        (its list reads the new kernel's state): asked again, up to 5 times, half a second
        apart; a server that keeps failing fails the test."""
        for attempt in range(5):
            try:
                return self.api("kernels")
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == 4:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def shutdown_kernels(self) -> None:
        for k in self.kernels():
            self.api(f"kernels/{k['id']}", method="DELETE")


@pytest.fixture(scope="session")
def lab(smoke_dirs: dict[str, Path], request: pytest.FixtureRequest):
    """One JupyterLab server on a temporary folder holding the prepared notebooks 02 and 05."""
    # not under pytest's tmp_path: the kernel's parent (the server) must not have "pytest" in
    # its command line, or fas_lib.viz.plots.in_interactive_kernel() takes it for a batch runner
    serve = Path(tempfile.mkdtemp(prefix="fas-browser-"))
    try:
        _prepare(serve, smoke_dirs)
        settings = serve / ".lab" / "settings"
        for rel, content in LAB_SETTINGS.items():
            target = settings / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(content), encoding="utf-8")
        port, token = _free_port(), secrets.token_hex(16)
        jupyter = Path(sys.executable).parent / "jupyter"
        cmd = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--notebook-dir={serve}",
               "--ServerApp.port_retries=0", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={serve / '.lab' / 'workspaces'}",
               "--LabApp.extension_manager=readonly"]  # no PyPI look-ups
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        log = OUT / "jupyterlab.log"
        OUT.mkdir(parents=True, exist_ok=True)
        env = _kernel_env(FAS_DATA_DIR=str(smoke_dirs["data"]),
                          JUPYTER_RUNTIME_DIR=str(serve / ".lab" / "runtime"))
        with open(log, "w", encoding="utf-8") as fh:
            proc = subprocess.Popen(cmd, cwd=serve, stdout=fh, stderr=subprocess.STDOUT, env=env)
        server = Lab(serve, port, token, proc, log)
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                server.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        echo(request.config, f"jupyter lab on {server.base} serving {serve}")
        yield server
    finally:
        if "server" in locals():
            try:
                server.shutdown_kernels()
            except OSError:
                pass
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(serve, ignore_errors=True)


@pytest.fixture(scope="session")
def driver(lab: Lab):
    """One headless Chromium (Debian's), console log on, fresh profile."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="fas-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(OUT / "chromedriver.log"))
    drv = webdriver.Chrome(service=service, options=options)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
