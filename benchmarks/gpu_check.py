"""The GPU check: a 6-trial search of a small convolutional model, two trials at once.

Prints, for each trial, where its ops ran, the GPU memory in use after it ended
(it must come back to the baseline between trials, since each trial trains in
its own process) and its time, then the same search on the CPU for comparison.

    python benchmarks/gpu_check.py
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import tuning as kt  # noqa: E402


def gpu_memory_mib() -> list[int]:
    """Memory in use on each GPU, from nvidia-smi (empty without one)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [int(line) for line in out.split()]


def build_model(hp: kt.HyperParameters):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            keras.layers.Conv2D(hp.Int("filters", 16, 64, step=16), 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(hp.Int("filters_2", 16, 64, step=16), 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class PlacementReport(kt.RandomSearch):
    """Records, inside the trial's process, which device its first layer's kernel is on."""

    def run_trial(self, trial, *args, **kwargs):
        import tensorflow as tf

        histories = super().run_trial(trial, *args, **kwargs)
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        for history in histories:
            history.history["on_gpu"] = [float(bool(devices))] * len(history.epoch)
        return histories

    def on_trial_end(self, trial):
        seconds = time.monotonic() - self.started
        on_gpu = trial.metrics.get_last_value("on_gpu")
        print(
            f"trial {trial.trial_id}: on_gpu={bool(on_gpu)} "
            f"gpu_memory_after_mib={gpu_memory_mib()} elapsed_s={seconds:.1f}",
            flush=True,
        )


def search(directory: str, concurrent: int, cuda_visible: str | None) -> float:
    if cuda_visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = cuda_visible
    rng = np.random.default_rng(0)
    x = rng.random((2048, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 2048)
    tuner = PlacementReport(
        build_model,
        objective="val_accuracy",
        max_trials=6,
        seed=1,
        directory=directory,
        overwrite=True,
        max_concurrent_trials=concurrent,
        isolation="process",
    )
    tuner.started = time.monotonic()
    started = time.monotonic()
    tuner.search(x, y, epochs=3, validation_split=0.2, batch_size=128, verbose=0)
    return (time.monotonic() - started) / 6


def main() -> None:
    print(f"GPU memory before: {gpu_memory_mib()} MiB", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        gpu_seconds = search(os.path.join(folder, "gpu"), 2, None)
        print(f"GPU memory after the GPU search: {gpu_memory_mib()} MiB", flush=True)
        cpu_seconds = search(os.path.join(folder, "cpu"), 2, "")
    print(f"per-trial time: GPU {gpu_seconds:.1f} s, CPU {cpu_seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
