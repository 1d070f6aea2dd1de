"""The one trial executor: what training a trial means, wherever it trains.

In the search's process, in a worker process and on a Dask worker alike, a
trial is executed by ``TrialExecutor.execute``: the tuner's ``run_trial``
(by default: for each execution, build the model seeded, fit it, record each
epoch), then the curves are made uniform, the best weights uploaded and the
outcome returned as a ``TrialResult``. A failure of the user's code is a
result, never an exception.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import tempfile
import threading
import time
import traceback
from typing import Any

import numpy as np

from tuning import errors
from tuning.checkpoints import CHECKPOINTS_FOLDER, CheckpointPolicy, check_checkpoint_every
from tuning.hooks import TunerHooks
from tuning.hyperparameters import HyperParameters
from tuning.model_builder import ModelBuilder
from tuning.objective import Objective
from tuning.pruning import MedianStoppingRule
from tuning.recorder import TrialRecorder
from tuning.results import to_executions
from tuning.trial import Trial, TrialStatus
from tuning.trial_spec import TrialResult, TrialSpec

__all__ = [
    "BUILD_CONFIG_ARTIFACT",
    "MODEL_CONFIG_ARTIFACT",
    "TENSORBOARD_ARTIFACTS",
    "TRIAL_DIR_ARTIFACTS",
    "WEIGHTS_ARTIFACT",
    "TrialExecutor",
    "trial_dir",
]

WEIGHTS_ARTIFACT = f"{CHECKPOINTS_FOLDER}/best.weights.h5"
BUILD_CONFIG_ARTIFACT = "build_config.json"
MODEL_CONFIG_ARTIFACT = "model_config.json"
TRIAL_DIR_ARTIFACTS = "trial_dir"
TENSORBOARD_ARTIFACTS = "tensorboard"


def trial_dir(project_dir: str, trial_id: str) -> str:
    """The trial's local folder, ``<project_dir>/trial_<trial_id>`` (as KerasTuner names it)."""
    return os.path.join(project_dir, f"trial_{trial_id}")


class TrialExecutor:
    """Runs trials for one tuner, recording each epoch in the trial's MLflow run.

    Args:
        hooks: The tuner: its ``run_trial`` and hooks are called.
        store: The trial store (``TrialStore``).
        objective: The search's objective.
        pruning: The pruning rule, or None.
        project_dir: Where the trials' local folders are (``trial_dir``); their
            files are uploaded to the trial's run when it ends.
        builder: Builds the trial's Keras models; None for a ``BaseTuner``,
            whose ``run_trial`` builds whatever it trains.
        executions: Models trained per trial (``executions_per_trial``).
        checkpoint_every: When a training trial saves its progress, so that
            a resumed search continues it (see ``CheckpointPolicy``).
    """

    def __init__(
        self,
        hooks: TunerHooks,
        store: Any,
        objective: Objective,
        pruning: MedianStoppingRule | None,
        project_dir: str,
        builder: ModelBuilder | None = None,
        executions: int = 1,
        checkpoint_every: int | str | None = "auto",
    ) -> None:
        check_checkpoint_every(checkpoint_every)
        self.hooks = hooks
        self.store = store
        self.objective = objective
        self.pruning = pruning
        self.project_dir = project_dir
        self.builder = builder
        self.executions = executions
        self.checkpoint_every = checkpoint_every
        self._recorders: dict[str, TrialRecorder] = {}
        self._lock = threading.Lock()

    def recorder(self, trial_id: str) -> TrialRecorder:
        """The recorder of a trial that is training in this process.

        Raises:
            KeyError: No such trial trains here.
        """
        with self._lock:
            return self._recorders[trial_id]

    def prepare(self) -> None:
        """Opens what every trial needs before the first one comes: the trial store.

        Called by a worker process as soon as it has loaded its payload, so that
        its first trial does not wait for MLflow's start-up (its client, the
        database's schema check, the experiment).
        """
        self.store.connect()

    def execute(self, spec: TrialSpec, fit_args: tuple, fit_kwargs: dict) -> TrialResult:
        """Trains the trial ``spec`` describes; never raises for a failure of user code.

        Args:
            spec: The trial to train.
            fit_args: What ``search`` received, positionally.
            fit_kwargs: What ``search`` received by keyword (copied per trial).

        Returns:
            The trial's result: its status, per-execution curves, error if any.
        """
        started = time.monotonic()
        trial = Trial(HyperParameters.from_config(spec.hyperparameters), trial_id=spec.trial_id)
        if spec.artifact_uri:
            self.store.connection.note_artifact_uri(spec.run_id, spec.artifact_uri)
        checkpoint_dir = tempfile.mkdtemp(prefix=f"hyperflow-trial-{spec.trial_id}-")
        recorder = TrialRecorder(
            self.store.runs,
            spec.run_id,
            self.objective,
            checkpoint_dir,
            executions=self.executions,
            seed=spec.seed,
            pruning=self.pruning,
            pruning_reference=spec.pruning_reference,
            initial_weights=self._parent_weights(spec, checkpoint_dir),
            policy=CheckpointPolicy(self.checkpoint_every),
            resume=spec.resume,
        )
        if spec.resume:
            self._download_progress(spec, recorder)
        with self._lock:
            self._recorders[trial.trial_id] = recorder  # type: ignore[index]
        status, message, error_type, executions = TrialStatus.COMPLETED, None, None, []
        training = self.builder.training() if self.builder else contextlib.nullcontext()
        try:
            with training:
                self.hooks.on_trial_begin(trial)
                results = self.hooks.run_trial(trial, *fit_args, **copy.copy(fit_kwargs))
            converted = to_executions(results, self.objective)
            recorder.log_executions(converted)
            executions = [e.to_dict() for e in converted]
            if recorder.pruned:
                status = TrialStatus.STOPPED
        except errors.FatalError as error:
            status, message = TrialStatus.FAILED, traceback.format_exc()
            error_type = type(error).__name__
        except errors.FailedTrialError:
            status, message = TrialStatus.FAILED, traceback.format_exc()
        except Exception:
            status, message = TrialStatus.INVALID, traceback.format_exc()
        finally:
            with self._lock:
                self._recorders.pop(trial.trial_id, None)  # type: ignore[arg-type]
        try:
            self._upload(recorder, spec.trial_id)
            recorder.discard_progress()
        finally:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return TrialResult(
            trial_id=spec.trial_id,
            run_id=spec.run_id,
            status=status.value,
            executions=executions,
            hyperparameters=trial.hyperparameters.get_config(),
            message=message,
            error_type=error_type,
            duration_s=time.monotonic() - started,
        )

    def run_executions(self, trial: Trial, *args: Any, **kwargs: Any) -> list[Any]:
        """``Tuner.run_trial``'s default: ``executions_per_trial`` models built, fitted, recorded.

        Each execution gets deep copies of the user's callbacks and the
        executor's own callback. Once an execution is pruned, the rest are not
        trained. A resumed trial's executions that had ended are not trained
        again: their recorded epochs stand for them.

        Returns:
            What ``HyperModel.fit`` returned, per execution trained or restored.
        """
        from tuning.callbacks import TrialCallback

        recorder = self.recorder(trial.trial_id)  # type: ignore[arg-type]
        user_callbacks = kwargs.pop("callbacks", None) or []
        histories = []
        for execution in range(self.executions):
            if recorder.pruned:
                break
            if execution < recorder.resume_execution:
                histories.append(_history(*recorder.recorded(execution)))
                continue
            callbacks = [
                _per_execution(copy.deepcopy(c), trial.trial_id, execution, recorder)
                for c in user_callbacks
            ]
            callbacks.append(TrialCallback(self.hooks, trial, recorder, execution))
            histories.append(self.build_and_fit(trial, *args, callbacks=callbacks, **kwargs))
        return histories

    def build_and_fit(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """Builds one execution's model (seeded, checked), then fits it with the hypermodel.

        The execution is read from the ``TrialCallback`` among ``callbacks``
        (0 without one); it is seeded with the trial's seed plus its number.
        The execution a resumed trial was in continues from its saved weights
        and optimizer state at the epoch after them; what ``fit`` returns then
        holds the epochs before too.
        """
        from tuning.callbacks import TrialCallback

        recorder = self.recorder(trial.trial_id)  # type: ignore[arg-type]
        execution = next(
            (c.execution for c in kwargs.get("callbacks") or [] if isinstance(c, TrialCallback)), 0
        )
        hp = trial.hyperparameters
        model = self.builder.build_seeded(hp, recorder.seed + execution)
        if recorder.initial_weights:
            model.load_weights(recorder.initial_weights)
        initial_epoch = recorder.initial_epoch(execution)
        if initial_epoch is not None:
            if model.optimizer is not None:  # built, so that its saved state loads too
                model.optimizer.build(model.trainable_variables)
            model.load_weights(recorder.resume_weights)
            kwargs["initial_epoch"] = max(initial_epoch, kwargs.get("initial_epoch", 0))
        self._log_model_config(recorder, model)
        results = self.builder.fit(hp, model, *args, **kwargs)
        if initial_epoch is not None:
            results = _prepend(results, *recorder.recorded(execution))
        if not model.built:
            return results  # a fit() that never trained the model: nothing to checkpoint
        if not recorder.has_checkpoint:
            # fit() reported no objective per epoch: keep the final weights instead.
            model.save_weights(recorder.checkpoint_path)
        recorder.build_config = model.get_build_config()
        return results

    def retrain(
        self, hp: HyperParameters, seed: int, *args: Any, **kwargs: Any
    ) -> list[tuple[Any, Any]]:
        """Trains a trial's executions again, built and seeded as the trial's were; records nothing.

        For the retrain flow: the same builder (compile overrides, size check,
        distribution strategy), the trial's seed plus the execution's number,
        ``executions_per_trial`` models.

        Args:
            hp: The trial's hyperparameters.
            seed: The trial's seed (``tuning.search_engine.trial_seed``).
            *args: Arguments for ``fit`` (the training data).
            **kwargs: Keyword arguments for ``fit`` (``epochs``, ``batch_size``, ...).

        Returns:
            ``(model, what fit returned)`` per execution.
        """
        trained = []
        with self.builder.training():
            for execution in range(self.executions):
                model = self.builder.build_seeded(hp, seed + execution)
                trained.append((model, self.builder.fit(hp, model, *args, **kwargs)))
        return trained

    def save_weights(self, trial_id: str, model: Any) -> None:
        """Saves ``model``'s weights as the trial's checkpoint (``Tuner.save_model``)."""
        model.save_weights(self.recorder(trial_id).checkpoint_path)

    def _parent_weights(self, spec: TrialSpec, folder: str) -> str | None:
        """The best-epoch weights of the trial this one continues (Hyperband), if it saved any."""
        parent = spec.parent_run_id
        connection = self.store.connection
        if not parent or not connection.has_artifact(parent, WEIGHTS_ARTIFACT):
            return None
        return connection.download(parent, WEIGHTS_ARTIFACT, os.path.join(folder, "parent"))

    def _download_progress(self, spec: TrialSpec, recorder: TrialRecorder) -> None:
        """Fetches the saved progress' weights, and the best weights so far, of a resumed trial."""
        connection = self.store.connection
        folder = os.path.join(os.path.dirname(recorder.checkpoint_path), "resume")
        recorder.resume_weights = connection.download(spec.run_id, spec.resume["weights"], folder)
        if spec.resume.get("best_value") is not None:
            best = connection.download(spec.run_id, WEIGHTS_ARTIFACT, folder)
            os.replace(best, recorder.checkpoint_path)

    def _log_model_config(self, recorder: TrialRecorder, model: Any) -> None:
        try:
            config = model.get_config()
        except Exception:  # subclassed models without get_config
            return
        self.store.runs.log_dict(recorder.run_id, jsonable(config), MODEL_CONFIG_ARTIFACT)

    def _upload(self, recorder: TrialRecorder, trial_id: str) -> None:
        """Uploads the trial's best weights, build config, folder and TensorBoard logs."""
        folder = trial_dir(self.project_dir, trial_id)
        if os.path.isdir(folder) and os.listdir(folder):
            self.store.connection.log_file(recorder.run_id, folder, TRIAL_DIR_ARTIFACTS)
        for log_dir in recorder.tensorboard_dirs:
            if os.path.isdir(log_dir):
                self.store.connection.log_file(
                    recorder.run_id, log_dir, f"{TENSORBOARD_ARTIFACTS}/{os.path.basename(log_dir)}"
                )
        if recorder.has_checkpoint:
            self.store.connection.log_file(recorder.run_id, recorder.checkpoint_path, "checkpoints")
        if recorder.build_config:
            self.store.runs.log_dict(
                recorder.run_id, jsonable(recorder.build_config), BUILD_CONFIG_ARTIFACT
            )


def _per_execution(callback: Any, trial_id: str, execution: int, recorder: TrialRecorder) -> Any:
    """A user's callback made the execution's own: a TensorBoard writes to its own folder.

    As KerasTuner does: ``<log_dir>/<trial_id>/execution<i>``, so that TensorBoard
    shows each trial and execution as a run of its own; the folder becomes the
    trial's ``tensorboard/`` artifacts when the trial ends.
    """
    import keras

    if isinstance(callback, keras.callbacks.TensorBoard):
        callback.log_dir = os.path.join(callback.log_dir, str(trial_id), f"execution{execution}")
        recorder.tensorboard_dirs.append(callback.log_dir)
    return callback


def _history(steps: list[int], metrics: dict[str, list[float]]) -> Any:
    """A Keras ``History`` of recorded epochs (an execution that ended before a resume)."""
    import keras

    history = keras.callbacks.History()
    history.epoch, history.history = list(steps), {k: list(v) for k, v in metrics.items()}
    return history


def _prepend(results: Any, steps: list[int], metrics: dict[str, list[float]]) -> Any:
    """``fit``'s History with the recorded epochs it lacks (those before the resume) put first."""
    if not isinstance(getattr(results, "history", None), dict):
        return results
    trained, fitted = len(results.epoch), set(results.epoch)
    kept = [i for i, step in enumerate(steps) if step not in fitted]
    earlier = [steps[i] for i in kept]
    for name in set(metrics) | set(results.history):
        before = metrics.get(name, [math.nan] * len(steps))
        after = results.history.get(name, [math.nan] * trained)
        results.history[name] = [before[i] for i in kept] + list(after)
    results.epoch = earlier + list(results.epoch)
    return results


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars made plain and anything else unknown made its ``repr``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
