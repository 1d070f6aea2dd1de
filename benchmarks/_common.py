"""What ``overhead.py`` and ``scaling.py`` share: the machine, the versions, the data, the tables.

Imported by the scripts run as ``python benchmarks/<script>.py`` (this folder
is then first on ``sys.path``), so it imports nothing heavy at import time:
scikit-learn and Keras are imported inside the functions that need them.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS",
    "Clock",
    "build_dense",
    "child_cpu_seconds",
    "children",
    "digits",
    "header",
    "load",
    "markdown_table",
    "rss_mb",
    "text_table",
]

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("hyperflow", "prefect", "mlflow", "tensorflow", "keras", "keras-tuner", "numpy")


class Clock:
    """Wall and CPU seconds of a block (CPU: this process, all its threads)."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def load() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as text."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _versions() -> str:
    found = [f"Python {platform.python_version()}"]
    for package in PACKAGES:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def header(title: str, command: str, load_start: str, load_end: str) -> list[str]:
    """The first lines of a results file: what ran, when, where, with which versions."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"# {title}",
        "",
        f"- Date: {now}",
        f"- Machine: {os.cpu_count()} cores, {_cpu_model()}, {_memory_gib()}, "
        f"{platform.system()} {platform.release()}",
        f"- Load average (1 / 5 / 15 min): {load_start} at the start, {load_end} at the end "
        "(other jobs share the machine)",
        f"- Versions: {_versions()}",
        f"- Command: `{command}`",
        "",
    ]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    )


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MiB (``VmRSS`` of ``/proc/<pid>/status``); NaN if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def digits() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """scikit-learn's 1797 8x8 digits, shuffled once: 75 % to train, 25 % to validate."""
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = (data.data[order] / 16.0).astype("float32")
    y = data.target[order]
    split = len(y) * 3 // 4
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_dense(hp: Any) -> Any:
    """A one-hidden-layer classifier of digits; works with our and keras-tuner's ``hp``."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hp.Int("units", 32, 256, step=32), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def children(marker: str = "", parent: int | None = None) -> list[int]:
    """The process ids of ``parent``'s (default: this process's) children whose command
    line contains ``marker`` (Prefect's temporary server, the zygote); empty off Linux."""
    found = []
    me = os.getpid() if parent is None else parent
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
                parent = int(file.read().rsplit(")", 1)[1].split()[1])
            if parent != me:
                continue
            with open(f"/proc/{pid}/cmdline", encoding="utf-8") as file:
                if marker in file.read().replace("\0", " "):
                    found.append(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    return found


#: In the command line of Prefect's temporary server.
PREFECT_SERVER = "prefect.server.api.server"


def settle_server(quiet_share: float = 0.05, window: float = 0.5, limit: float = 60.0) -> float:
    """Waits until Prefect's temporary server has worked off the events of earlier searches.

    The server records a search's task-run events after the search returns (two
    to three CPU seconds for 50 trivial trials on 2 cores); a search started
    meanwhile competes with that backlog for the CPU, which made back-to-back
    measurements of the same search differ by 2-3x.

    Args:
        quiet_share: The server is settled once it used less than this share of
            one core over ``window`` seconds.
        window: Seconds per measurement.
        limit: Gives up waiting after this many seconds.

    Returns:
        CPU seconds the server used while this waited (the earlier searches' deferred cost).
    """
    start = used = child_cpu_seconds(PREFECT_SERVER)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(window)
        now = child_cpu_seconds(PREFECT_SERVER)
        if now - used < quiet_share * window:
            return now - start
        used = now
    return used - start


def child_cpu_seconds(marker: str) -> float:
    """CPU seconds (user + system) used so far by the children ``children(marker)`` names."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in children(marker):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total
