"""The console output of a search, worded as KerasTuner words it."""

from __future__ import annotations

import time
from typing import Any, TextIO

from tuning.hyperparameters import HyperParameters
from tuning.trial import Trial

__all__ = ["Display", "format_duration"]


def format_duration(seconds: float) -> str:
    """``3725.2`` → ``"01h 02m 05s"``."""
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}h {seconds % 3600 // 60:02d}m {seconds % 60:02d}s"


def _cell(value: Any, width: int = 18) -> str:
    text = "?" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value)
    return text[: width - 1].ljust(width - 1) + "|"


class Display:
    """Prints a search's progress.

    Args:
        objective_name: The objective's name, for the "Best ... So Far" line.
        verbose: 0 prints nothing.
        stream: Where to print; standard output when None.
    """

    def __init__(self, objective_name: str, verbose: int = 1, stream: TextIO | None = None) -> None:
        self.objective_name = objective_name
        self.verbose = verbose
        self.stream = stream
        self._search_start = time.monotonic()
        self._trial_start: dict[str, float] = {}

    def _print(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.stream, flush=True)

    def search_begin(self) -> None:
        self._search_start = time.monotonic()

    def trial_begin(self, trial: Trial, best: HyperParameters | None) -> None:
        """Prints the trial's number and its values against the best so far."""
        self._trial_start[str(trial.trial_id)] = time.monotonic()
        best_values = best.values if best is not None else {}
        lines = [f"\nSearch: Running Trial #{int(trial.trial_id) + 1}", ""]
        lines.append(_cell("Value") + _cell("Best Value So Far") + "Hyperparameter")
        for name, value in trial.values.items():
            lines.append(_cell(value) + _cell(best_values.get(name)) + name)
        self._print("\n".join(lines) + "\n")

    def trial_end(self, trial: Trial, best_score: float | None) -> None:
        """Prints how the trial ended, the best score and the elapsed time."""
        started = self._trial_start.pop(str(trial.trial_id), time.monotonic())
        lines = [
            f"\nTrial {int(trial.trial_id) + 1} Complete "
            f"[{format_duration(time.monotonic() - started)}]"
        ]
        if trial.score is not None:
            lines.append(f"{self.objective_name}: {trial.score}")
        if trial.status.value not in ("COMPLETED",):
            lines.append(f"Status: {trial.status.value}")
        lines.append("")
        lines.append(f"Best {self.objective_name} So Far: {best_score}")
        lines.append(
            f"Total elapsed time: {format_duration(time.monotonic() - self._search_start)}"
        )
        self._print("\n".join(lines))
