"""What saving a training trial's progress (for resume) costs a small trial.

Trials of the dense digits model (``_common.build_dense``, scikit-learn's
1797 digits, ``--epochs`` 10, batch 32) are trained by the trial executor in
this process, as a search with isolation "none" trains them, on one MLflow
store (SQLite and a local artifact folder), under ``checkpoint_every`` "auto"
(the default) and 1 (every epoch), alternating. For each trial the time
spent saving progress (``TrialRecorder._save_progress``: the weights with the
optimizer's state, the best weights, ``progress.json``, the removal of the
previous weights) and removing it when the trial ends is timed from inside,
and set against the trial's time: on a shared, busy machine both grow alike,
whereas comparing the wall times of whole trials with and without saving
measures the other jobs. A warm-up trial per setting is not counted. The
table goes to ``benchmarks/results/checkpoint_cost.md``.

Usage:
    python benchmarks/checkpoint_cost.py [--rounds 5] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _common import RESULTS, build_dense, digits, header, load, markdown_table  # noqa: E402

SETTINGS = ("auto", 1)


def _timed(cls: type, name: str, spent: list[float]) -> None:
    """Wraps ``cls.name`` so that each call's wall time is appended to ``spent``."""
    original = getattr(cls, name)

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(cls, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    load_start = load()

    import tuning as kt
    from tuning.recorder import TrialRecorder
    from tuning.search_engine import evaluate

    saves: list[float] = []
    discards: list[float] = []
    _timed(TrialRecorder, "_save_progress", saves)
    _timed(TrialRecorder, "discard_progress", discards)
    (x, y), validation = digits()
    fit = {"epochs": args.epochs, "batch_size": 32, "validation_data": validation, "verbose": 0}
    directory = tempfile.mkdtemp(prefix="hyperflow-checkpoint-cost-")
    trials: dict[object, list[tuple[float, int, float]]] = {s: [] for s in SETTINGS}
    for round_ in range(args.rounds + 1):
        order = SETTINGS if round_ % 2 else tuple(reversed(SETTINGS))
        for setting in order:
            tuner = kt.RandomSearch(
                build_dense,
                objective="val_accuracy",
                max_trials=1,
                seed=round_,
                directory=directory,
                project_name=f"cost-{setting}-{round_}",
                overwrite=True,
                checkpoint_every=setting,
            )
            tuner.search_space()
            tuner.engine.open("RandomSearch", {}, overwrite=True)
            spec = tuner.engine.sample("0")
            tuner.engine.flush()
            saves.clear()
            discards.clear()
            started = time.perf_counter()
            result = tuner.executor.execute(spec, (x, y), fit)
            elapsed = time.perf_counter() - started
            tuner.engine.record(spec, evaluate(result, tuner.oracle.objective))
            cost = sum(saves) + sum(discards)
            if round_:  # round 0 warms up
                trials[setting].append((elapsed, len(saves), cost))
            print(
                f"round {round_} checkpoint_every={setting!r}: {elapsed:.2f} s, "
                f"{len(saves)} saves, {cost:.3f} s saving ({100 * cost / elapsed:.1f} %)",
                flush=True,
            )

    rows = []
    for setting in SETTINGS:
        done = trials[setting]
        rows.append(
            [
                repr(setting),
                f"{statistics.median(t for t, _, _ in done):.2f}",
                f"{statistics.median(n for _, n, _ in done):g}",
                f"{statistics.median(c / max(n, 1) for _, n, c in done):.3f}",
                f"{statistics.median(100 * c / t for t, _, c in done):.1f} %",
                f"{max(100 * c / t for t, _, c in done):.1f} %",
            ]
        )
    command = "python benchmarks/checkpoint_cost.py " + " ".join(sys.argv[1:])
    lines = header("Cost of saving a trial's progress", command, load_start, load())
    lines += [
        f"{args.rounds} trials per setting, {args.epochs} epochs of the dense digits model "
        "each (1347 training, 450 validation samples, batch 32), trained by the trial "
        "executor in the benchmark's process; SQLite store, local artifact folder. "
        "Saving: the progress saves and the removal of the progress at the trial's end.",
        "",
        markdown_table(
            [
                "checkpoint_every",
                "median trial (s)",
                "saves per trial",
                "median per save (s)",
                "median share saving",
                "worst share saving",
            ],
            rows,
        ),
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "checkpoint_cost.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
