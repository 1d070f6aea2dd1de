"""Concurrent trials, the cost of each isolation mode, and the search process's memory.

1. Sleeping trials: ``--sleep-trials`` (16) trials whose ``run_trial`` only
   sleeps ``--sleep-s`` (1) s, so that the result does not depend on the
   machine's cores: with ``max_concurrent_trials`` N = 1, 2, 4 and 8 and
   isolation "none", "worker" and "process", the search's wall time, its
   speed-up over N=1 (ideal: N) and the gaps between a trial's end and the
   start of its slot's next trial, from the trials' own clocks (``time.time()``
   in ``run_trial``; a slot freed is matched first-in first-out to the next
   trial that starts, as the flow hands slots out). The space is declared
   ahead (``hyperparameters=``), so all N slots fill at once. Then, per
   isolation, a search whose ``run_trial`` declares the space, with N=4: its
   first trial runs alone (the space is unknown until it ends: KerasTuner's
   rule too); reported is the gap from its end to the next trial's start and
   to the last start of the wave that follows.
2. CPU-bound scaling: ``--trials`` (8) trials of a two-layer dense model on
   scikit-learn's digits (``--epochs`` 5), with ``max_concurrent_trials=2``
   against 1, both with isolation "worker", and isolation "none" with 1 as the
   reference. TensorFlow is pinned to one thread per process
   (``TF_NUM_INTRAOP_THREADS=1``, ``TF_NUM_INTEROP_THREADS=1``, set here and
   inherited by the worker processes), so two trials at once can use two cores.
   Reported: the wall-time ratio N=2 / N=1, the same ratio for the same
   trainings with Keras alone in one and two processes forked from the zygote
   (no flow, tracking or oracle): what the machine itself allows, and ours
   against that.
3. Isolation: ``--isolation-trials`` (4) trials of a small dense model on
   digits (``--small-epochs`` 3) with isolation "none", "worker" and
   "process"; seconds per trial (the whole search's wall time over its
   trials) and the difference from "none".
4. Memory: the resident memory (``VmRSS``) of the search's process after
   trial 3 and after trial ``--memory-trials`` (30) of a search of the small
   model, isolation "none" and "worker", sampled in the tuner's
   ``on_trial_end`` (which runs in the search's process); the worker
   process's memory is shown next to it.

Each search starts once Prefect's temporary server has recorded the previous
search's events (``settle_server``). Every search of a part alternates with
the others (in reverse order on every other repeat), and parts 1 to 3 repeat
``--repeats`` (5; 3 for part 1 with ``--sleep-repeats``) times (medians;
ratios are taken per repeat, side by side). A one-trial warm-up search with a
worker process first pays the one-time start-up (Prefect's temporary server,
MLflow's database, TensorFlow in this process and in the zygote that worker
processes fork from). All searches share one MLflow store, each in its own
project. ``--parts`` runs a subset. The tables go to
``benchmarks/results/scaling.md``.

Usage:
    python benchmarks/scaling.py [--sleep-trials 16] [--sleep-s 1] [--sleep-repeats 3]
                                 [--trials 8] [--epochs 5] [--isolation-trials 4]
                                 [--small-epochs 3] [--memory-trials 30] [--repeats 5]
                                 [--parts sleep,cpu,isolation,memory]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One TensorFlow thread per process; worker processes inherit the environment.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

from _common import (  # noqa: E402
    RESULTS,
    Clock,
    build_dense,
    children,
    digits,
    header,
    load,
    markdown_table,
    rss_mb,
    settle_server,
    text_table,
)

import tuning as kt  # noqa: E402  (after the settings above)

TARGET_OURS_OVER_BARE = 1.10
TARGET_GROWTH_MB = 300.0
#: Speed-ups over N=1 that sleeping trials must reach with isolation "worker".
TARGET_SPEEDUP = {4: 3.3, 8: 5.5}
#: Median gaps (ms) between a trial's end and its slot's next start.
TARGET_GAP_MS = {"worker": 100.0, "process": 300.0}
TARGET_FIRST_GAP_MS = 200.0
SLEEP_SLOTS = (1, 2, 4, 8)
ISOLATIONS = ("none", "worker", "process")
ZYGOTE = "tuning.zygote"  # in the command line of the process trial workers fork from


def build_wide(hp: Any) -> Any:
    """Two wide hidden layers: enough arithmetic per epoch for a trial to be CPU-bound."""
    import keras

    units = hp.Int("units", 256, 512, step=128)
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def bare_fits(fits: int, epochs: int) -> None:
    """Trains the wide model ``fits`` times with Keras alone: no flow, tracking or oracle.

    Runs in a process forked from the zygote (no TensorFlow import to pay), as a
    trial's worker does; the scaling part's reference for what the machine allows.
    """
    (x, y), validation = digits()
    for k in range(fits):
        hp = kt.HyperParameters()
        hp.Fixed("units", (256, 384, 512)[k % 3])
        hp.Fixed("lr", 1e-3)
        build_wide(hp).fit(x, y, epochs=epochs, validation_data=validation, verbose=0)


def _bare(trials: int, epochs: int, concurrent: int) -> float:
    """Wall seconds of ``trials`` bare fits over ``concurrent`` forked processes."""
    from tuning import zygote

    share, rest = divmod(trials, concurrent)
    settle_server()
    with Clock() as clock:
        children = [
            zygote.shared().spawn("scaling:bare_fits", [], (share + (k < rest), epochs))
            for k in range(concurrent)
        ]
        codes = [child.wait() for child in children]
    if any(codes):
        raise RuntimeError(f"A bare-fit process failed (exit codes {codes}).")
    return clock.wall


def workers_rss_mb() -> float:
    """Resident memory of this process's trial workers, in MiB (0 when none runs)."""
    return sum(rss_mb(pid) for zygote in children(ZYGOTE) for pid in children(parent=zygote))


class MemoryProbe(kt.RandomSearch):
    """Samples the search process's memory (and its workers') when each trial ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.samples: list[tuple[float, float]] = []

    def on_trial_end(self, trial: Any) -> None:
        self.samples.append((rss_mb(), workers_rss_mb()))


class Sleeper(kt.RandomSearch):
    """Trials that only sleep, and report when they started and ended by their own clock."""

    seconds = 1.0

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        started = time.time()
        time.sleep(self.seconds)
        return {"loss": x**2, "started": started, "ended": time.time()}


def spans(tuner: Any) -> list[tuple[float, float]]:
    """Each trial's (start, end), by start."""
    return sorted(
        (t.metrics.get_last_value("started"), t.metrics.get_last_value("ended"))
        for t in tuner.oracle.trials.values()
    )


def slot_gaps(trial_spans: list[tuple[float, float]], slots: int) -> list[float]:
    """Seconds from a trial's end to its slot's next start, slots freed first-in first-out.

    The first ``slots`` trials start the slots; trial ``k`` after them takes the
    slot the ``k``-th trial to end freed (the flow hands slots out in that order).
    """
    starts = [start for start, _ in trial_spans]
    ends = sorted(end for _, end in trial_spans)
    return [starts[k] - ends[k - slots] for k in range(slots, len(starts))]


class Runner:
    """Runs searches in one MLflow store, each in its own project."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.directory = tempfile.mkdtemp(prefix="hyperflow-scaling-")
        self.data = digits()
        self.searches = 0

    def search(
        self,
        build: Any,
        trials: int,
        epochs: int,
        isolation: str,
        concurrent: int = 1,
        tuner_class: type = kt.RandomSearch,
    ) -> tuple[float, Any]:
        """Runs one search; returns its wall seconds and the tuner."""
        (x, y), validation = self.data
        tuner = tuner_class(
            build,
            objective="val_accuracy",
            max_trials=trials,
            seed=self.seed,
            directory=self.directory,
            project_name=self._project(),
            overwrite=True,
            max_concurrent_trials=concurrent,
            isolation=isolation,
        )
        return self._timed(tuner, x, y, epochs=epochs, validation_data=validation), tuner

    def sleep_search(
        self, trials: int, seconds: float, isolation: str, concurrent: int, declared: bool
    ) -> tuple[float, list[tuple[float, float]]]:
        """Runs a search of sleeping trials; returns its wall seconds and the trials' spans.

        Args:
            declared: The space is declared ahead; else the first trial declares it.
        """
        space = kt.HyperParameters()
        space.Float("x", -1.0, 1.0)
        tuner = Sleeper(
            objective="loss",
            max_trials=trials,
            seed=self.seed,
            directory=self.directory,
            project_name=self._project(),
            overwrite=True,
            max_concurrent_trials=concurrent,
            isolation=isolation,
            hyperparameters=space if declared else None,
        )
        tuner.seconds = seconds
        return self._timed(tuner), spans(tuner)

    def _project(self) -> str:
        self.searches += 1
        return f"scaling-{self.searches}"

    @staticmethod
    def _timed(tuner: Any, *args: Any, **kwargs: Any) -> float:
        settle_server()
        with Clock() as clock:
            tuner.search(*args, verbose=0, **kwargs)
        return clock.wall


def _alternating(names: list[Any], repeat: int) -> list[Any]:
    """``names`` in order on even repeats, reversed on odd ones: no arm always runs first."""
    return names if repeat % 2 == 0 else names[::-1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _median_ms(seconds: list[float]) -> str:
    """The median in milliseconds, or "-" for none (N=8 slots and 8 trials: no gap)."""
    return _ms(statistics.median(seconds)) if seconds else "-"


def _sleeping(runner: Runner, args: argparse.Namespace) -> tuple[list[list[str]], list[str]]:
    """Part 1: sleeping trials at N = 1, 2, 4, 8 slots; (table rows, summary lines)."""
    arms = [(isolation, n) for isolation in ISOLATIONS for n in SLEEP_SLOTS]
    walls: dict[tuple[str, int], list[float]] = {arm: [] for arm in arms}
    gaps: dict[tuple[str, int], list[float]] = {arm: [] for arm in arms}
    # First trial's start to last trial's end: the search's wall time less its fixed cost.
    spans: dict[tuple[str, int], list[float]] = {arm: [] for arm in arms}
    for repeat in range(args.sleep_repeats):
        for isolation, n in _alternating(arms, repeat):
            wall, trial_spans = runner.sleep_search(
                args.sleep_trials, args.sleep_s, isolation, n, declared=True
            )
            walls[isolation, n].append(wall)
            spans[isolation, n].append(
                max(end for _, end in trial_spans) - min(start for start, _ in trial_spans)
            )
            gaps[isolation, n].extend(slot_gaps(trial_spans, n))
        print(
            f"sleeping trials, repeat {repeat + 1}: "
            + ", ".join(f"{i} N={n} {walls[i, n][-1]:.1f} s" for i, n in arms),
            flush=True,
        )
    rows, summary = [], []
    for isolation, n in arms:
        speedups = _ratios(walls[isolation, 1], walls[isolation, n])
        span_speedups = _ratios(spans[isolation, 1], spans[isolation, n])
        arm_gaps = sorted(gaps[isolation, n])
        rows.append(
            [
                f'isolation="{isolation}", N={n}',
                f"{statistics.median(walls[isolation, n]):.2f}",
                f"{statistics.median(speedups):.2f} (ideal {n})",
                f"{statistics.median(spans[isolation, n]):.2f}",
                f"{statistics.median(span_speedups):.2f}",
                _median_ms(arm_gaps),
                _ms(arm_gaps[int(0.9 * (len(arm_gaps) - 1))]) if arm_gaps else "-",
                ", ".join(f"{w:.2f}" for w in walls[isolation, n]),
            ]
        )
        target = TARGET_SPEEDUP.get(n) if isolation == "worker" else None
        if target is not None:
            speedup, span_speedup = statistics.median(speedups), statistics.median(span_speedups)
            summary.append(
                f'- Sleeping trials, isolation "worker", N={n}: {speedup:.2f} times as fast as '
                f"N=1 by the search's wall time (per repeat: "
                f"{', '.join(f'{r:.2f}' for r in speedups)}); target >= {target}: "
                f"{'met' if speedup >= target else 'MISSED'}. From the first trial's start to "
                f"the last one's end (without the search's fixed start and finish): "
                f"{span_speedup:.2f} times, {'met' if span_speedup >= target else 'MISSED'}."
            )
    for isolation, target in TARGET_GAP_MS.items():
        pooled = [g for n in SLEEP_SLOTS for g in gaps[isolation, n]]
        per_n = ", ".join(f"N={n} {_median_ms(gaps[isolation, n])}" for n in SLEEP_SLOTS)
        median = statistics.median(pooled) * 1000
        summary.append(
            f"- Median gap between a trial's end and its slot's next start, isolation "
            f'"{isolation}": {median:.0f} ms over all N ({per_n} ms); target <= {target:.0f} ms: '
            f"{'met' if median <= target else 'MISSED'}."
        )
    return rows, summary


def _ratios(baseline: list[float], measured: list[float]) -> list[float]:
    """Per repeat, how many times faster ``measured`` ran than ``baseline``."""
    return [one / many for one, many in zip(baseline, measured, strict=True)]


def _first_trial(runner: Runner, args: argparse.Namespace) -> tuple[list[list[str]], list[str]]:
    """Part 1b: the space declared by the first trial, N=4; (table rows, summary lines)."""
    slots = 4
    first: dict[str, list[float]] = {isolation: [] for isolation in ISOLATIONS}
    wave: dict[str, list[float]] = {isolation: [] for isolation in ISOLATIONS}
    for repeat in range(args.sleep_repeats):
        for isolation in _alternating(list(ISOLATIONS), repeat):
            _, trial_spans = runner.sleep_search(
                1 + slots, args.sleep_s, isolation, slots, declared=False
            )
            ended = trial_spans[0][1]
            first[isolation].append(trial_spans[1][0] - ended)
            wave[isolation].append(trial_spans[-1][0] - ended)
        print(
            f"first trial, repeat {repeat + 1}: "
            + ", ".join(f"{i} {_ms(first[i][-1])} ms" for i in ISOLATIONS),
            flush=True,
        )
    rows, summary = [], []
    for isolation in ISOLATIONS:
        gap = statistics.median(first[isolation]) * 1000
        rows.append(
            [
                f'isolation="{isolation}"',
                f"{gap:.0f}",
                _ms(statistics.median(wave[isolation])),
                ", ".join(_ms(g) for g in first[isolation]),
            ]
        )
        summary.append(
            f"- The first trial's end to the next start (space declared by the first trial, "
            f'N={slots}), isolation "{isolation}": {gap:.0f} ms; target <= '
            f"{TARGET_FIRST_GAP_MS:.0f} ms: {'met' if gap <= TARGET_FIRST_GAP_MS else 'MISSED'}."
        )
    return rows, summary


def _scaling(
    runner: Runner, args: argparse.Namespace
) -> tuple[list[list[str]], list[float], list[float]]:
    runs: dict[str, list[float]] = {
        "worker-1": [],
        "worker-2": [],
        "none-1": [],
        "bare-1": [],
        "bare-2": [],
    }
    for repeat in range(args.repeats):
        for name in _alternating(list(runs), repeat):
            isolation, concurrent = name.split("-")
            if isolation == "bare":
                wall = _bare(args.trials, args.epochs, int(concurrent))
            else:
                wall, _ = runner.search(
                    build_wide, args.trials, args.epochs, isolation, int(concurrent)
                )
            runs[name].append(wall)
        print(
            f"scaling, repeat {repeat + 1}: "
            + ", ".join(f"{name} {walls[-1]:.1f} s" for name, walls in runs.items()),
            flush=True,
        )
    ratios = [two / one for one, two in zip(runs["worker-1"], runs["worker-2"], strict=True)]
    bare = [two / one for one, two in zip(runs["bare-1"], runs["bare-2"], strict=True)]
    base = statistics.median(runs["worker-1"])
    labels = {
        "worker-1": 'max_concurrent_trials=1, isolation="worker"',
        "worker-2": 'max_concurrent_trials=2, isolation="worker"',
        "none-1": 'max_concurrent_trials=1, isolation="none" (reference)',
        "bare-1": "Keras alone, 1 process (the machine's reference)",
        "bare-2": "Keras alone, 2 processes at once",
    }
    rows = []
    for name, walls in runs.items():
        wall = statistics.median(walls)
        rows.append(
            [
                labels[name],
                f"{wall:.1f}",
                f"{wall / args.trials:.2f}",
                f"{wall / base:.2f}",
                ", ".join(f"{w:.1f}" for w in walls),
            ]
        )
    return rows, ratios, bare


def _isolation(runner: Runner, args: argparse.Namespace) -> list[list[str]]:
    modes = ("none", "worker", "process")
    walls: dict[str, list[float]] = {mode: [] for mode in modes}
    for repeat in range(args.repeats):
        for mode in _alternating(list(modes), repeat):
            wall, _ = runner.search(build_dense, args.isolation_trials, args.small_epochs, mode)
            walls[mode].append(wall / args.isolation_trials)
        print(
            f"isolation, repeat {repeat + 1}: "
            + ", ".join(f"{mode} {w[-1]:.2f} s/trial" for mode, w in walls.items()),
            flush=True,
        )
    none = statistics.median(walls["none"])
    rows = []
    for mode in modes:
        per_trial = statistics.median(walls[mode])
        rows.append(
            [
                f'isolation="{mode}"',
                f"{per_trial:.2f}",
                f"{per_trial - none:+.2f}",
                ", ".join(f"{w:.2f}" for w in walls[mode]),
            ]
        )
    return rows


def _memory(runner: Runner, args: argparse.Namespace) -> tuple[list[list[str]], list[float]]:
    rows, growths = [], []
    early = min(3, args.memory_trials)
    for mode in ("none", "worker"):
        _, tuner = runner.search(
            build_dense, args.memory_trials, args.small_epochs, mode, tuner_class=MemoryProbe
        )
        samples = tuner.samples
        (first, first_workers), (last, last_workers) = samples[early - 1], samples[-1]
        growths.append(last - first)
        rows.append(
            [
                f'isolation="{mode}"',
                f"{first:.0f}",
                f"{last:.0f}",
                f"{last - first:+.0f}",
                f"{max(rss for rss, _ in samples):.0f}",
                f"{first_workers:.0f} / {last_workers:.0f}" if mode != "none" else "-",
            ]
        )
        print(f"memory, {mode}: {first:.0f} MiB -> {last:.0f} MiB", flush=True)
    return rows, growths


PARTS = ("sleep", "cpu", "isolation", "memory")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep-trials", type=int, default=16, help="trials per sleeping search")
    parser.add_argument("--sleep-s", type=float, default=1.0, help="seconds a sleeping trial takes")
    parser.add_argument("--sleep-repeats", type=int, default=3, help="repeats of part 1")
    parser.add_argument("--trials", type=int, default=8, help="trials per CPU-bound search")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of a CPU-bound trial")
    parser.add_argument("--isolation-trials", type=int, default=4)
    parser.add_argument("--small-epochs", type=int, default=3, help="epochs of the small model")
    parser.add_argument("--memory-trials", type=int, default=30)
    # Searches in a row on this machine differ by up to 30 %: two repeats once gave a
    # median ratio of 0.59 where five repeats on the same code gave 0.76.
    parser.add_argument("--repeats", type=int, default=5, help="repeats of parts 2 and 3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"a subset of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts takes a subset of {','.join(PARTS)}, got {args.parts!r}")
    load_start = load()
    print(f"Load average at the start: {load_start}", flush=True)

    runner = Runner(args.seed)
    startup, _ = runner.search(build_dense, 1, 1, "worker")
    print(f"Start-up (a one-trial warm-up search): {startup:.1f} s", flush=True)
    sections: list[str] = []
    printed: list[str] = []
    summary: list[str] = []

    def add(title: str, text: str, headers: list[str], rows: list[list[str]]) -> None:
        sections.extend([f"## {title}", "", text, "", markdown_table(headers, rows), ""])
        printed.extend([text_table(headers, rows), ""])

    if "sleep" in parts:
        sleep_rows, sleep_summary = _sleeping(runner, args)
        first_rows, first_summary = _first_trial(runner, args)
        add(
            "Sleeping trials: concurrency without competition for the machine",
            f"{args.sleep_trials} trials that sleep {args.sleep_s:g} s each, the space declared "
            f"ahead; medians of {args.sleep_repeats} searches per row, alternating (reversed "
            "every other repeat). Speed-up: N=1's wall time over this row's, per repeat; the same "
            "for the first trial's start to the last trial's end (the search's own start-up "
            "and finish left out). Gaps: "
            "a trial's end to its slot's next start, by the trials' own clocks, over all "
            "repeats.",
            [
                f"{args.sleep_trials} x {args.sleep_s:g} s sleep",
                "search wall (s)",
                "speed-up vs N=1",
                "first start to last end (s)",
                "its speed-up",
                "median slot gap (ms)",
                "90th percentile gap (ms)",
                "each repeat (s)",
            ],
            sleep_rows,
        )
        add(
            "The first trial declares the space",
            "A search of 5 sleeping trials whose first trial declares the space (it runs "
            "alone), N=4: from its end to the next trial's start and to the last start of "
            f"the wave that follows; medians of {args.sleep_repeats} searches.",
            [
                "5 x 1 s sleep, N=4",
                "first end to next start (ms)",
                "to the 4th start (ms)",
                "each repeat (ms)",
            ],
            first_rows,
        )
        summary += sleep_summary + first_summary
    if "cpu" in parts:
        scaling_rows, ratios, bare_ratios = _scaling(runner, args)
        ours, bare = statistics.median(ratios), statistics.median(bare_ratios)
        versus = [o / b for o, b in zip(ratios, bare_ratios, strict=True)]
        add(
            "CPU-bound trials",
            f"Medians of {args.repeats} searches each, alternating (reversed every other repeat).",
            [
                f"{args.trials} trials, 2 x Dense(256-512), {args.epochs} epochs, 1 TF thread each",
                "search wall (s)",
                "per trial (s)",
                "vs N=1 worker",
                "each repeat (s)",
            ],
            scaling_rows,
        )
        summary.append(
            f'- CPU-bound scaling: wall-time ratio N=2 / N=1 (isolation "worker") {ours:.2f} '
            f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)}); Keras alone in forked "
            f"processes, the same run: {bare:.2f} (per repeat: "
            f"{', '.join(f'{r:.2f}' for r in bare_ratios)}), what two cores of this machine "
            f"give. Ours / bare, per repeat: {', '.join(f'{v:.2f}' for v in versus)}; median "
            f"{statistics.median(versus):.2f}; target <= {TARGET_OURS_OVER_BARE:.2f}: "
            f"{'met' if statistics.median(versus) <= TARGET_OURS_OVER_BARE else 'MISSED'}."
        )
    if "isolation" in parts:
        add(
            "Cost of each isolation mode",
            f"Search wall time / trials; medians of {args.repeats} searches each, alternating. "
            '"worker" starts one process per slot and search, "process" one per trial.',
            [
                f"{args.isolation_trials} trials, Dense(32-256), {args.small_epochs} epochs",
                "per trial (s)",
                'vs "none" (s)',
                "each repeat (s)",
            ],
            _isolation(runner, args),
        )
    if "memory" in parts:
        memory_rows, growths = _memory(runner, args)
        add(
            "Memory",
            "The search process's resident memory, sampled as each trial ends.",
            [
                f"{args.memory_trials}-trial search, Dense(32-256), {args.small_epochs} epochs",
                f"search process RSS after trial {min(3, args.memory_trials)} (MiB)",
                f"after trial {args.memory_trials} (MiB)",
                "growth (MiB)",
                "peak (MiB)",
                "worker RSS, same trials (MiB)",
            ],
            memory_rows,
        )
        summary.append(
            "- Memory: growth of the search process between trial 3 and trial "
            f"{args.memory_trials}: "
            + ", ".join(
                f"{mode} {growth:+.0f} MiB"
                for mode, growth in zip(("none", "worker"), growths, strict=True)
            )
            + f"; target < {TARGET_GROWTH_MB:.0f} MB: "
            + ("met." if max(growths) < TARGET_GROWTH_MB else "MISSED.")
        )
    summary.append(f"- One-time start-up paid by the warm-up search: {startup:.1f} s.")
    load_end = load()

    command = " ".join(["python benchmarks/scaling.py", *(sys.argv[1:] if argv is None else argv)])
    lines = header(
        "Scaling, isolation and memory of Hyperflow's searches", command, load_start, load_end
    )
    lines += [*sections, "## Summary", "", *summary, ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaling.md").write_text("\n".join(lines), encoding="utf-8")
    print()
    print("\n".join([*printed, *summary]))
    print(f"\nWritten to {RESULTS / 'scaling.md'}", flush=True)


if __name__ == "__main__":
    main()
