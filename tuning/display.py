"""The console output of a search, worded as KerasTuner words it."""

from __future__ import annotations

import datetime
import time
from typing import Any, TextIO

from tuning.hyperparameters import HyperParameters
from tuning.trial import Trial

__all__ = ["Display"]


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

    @staticmethod
    def format_duration(duration: datetime.timedelta | float) -> str:
        """A duration as KerasTuner prints it, to the second; days only when there are any.

        Args:
            duration: A ``timedelta``, or a number of seconds.

        Example:
            >>> Display.format_duration(3725.2)
            '01h 02m 05s'
            >>> Display.format_duration(datetime.timedelta(days=7))
            '7d 00h 00m 00s'
        """
        if isinstance(duration, datetime.timedelta):
            duration = duration.total_seconds()
        days, seconds = divmod(int(round(duration)), 86400)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        clock = f"{hours:02d}h {minutes:02d}m {seconds:02d}s"
        return f"{days}d {clock}" if days else clock

    def _print(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.stream, flush=True)

    def search_begin(self) -> None:
        self._search_start = time.monotonic()

    def search_stopped(self, reason: str) -> None:
        """Prints why the search starts no more trials."""
        self._print(f"\nSearch stopping: {reason}. Running trials finish; no new trial starts.")

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
            f"[{self.format_duration(time.monotonic() - started)}]"
        ]
        if trial.score is not None:
            lines.append(f"{self.objective_name}: {trial.score}")
        if trial.status.value not in ("COMPLETED",):
            lines.append(f"Status: {trial.status.value}")
        lines.append("")
        lines.append(f"Best {self.objective_name} So Far: {best_score}")
        lines.append(
            f"Total elapsed time: {self.format_duration(time.monotonic() - self._search_start)}"
        )
        self._print("\n".join(lines))
