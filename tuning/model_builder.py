"""How a trial's model is built, wherever: in a trial, in ``get_best_models``, in retrain.

One place applies the tuner's arguments that shape a model: the
``distribution_strategy`` scope, the ``max_model_size`` check and the compile
overrides (``optimizer``, ``loss``, ``metrics``). A trial, a rebuilt best model
and a retrained model are therefore the same model.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

from tuning import errors, heap
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters

__all__ = ["ModelBuilder"]


class ModelBuilder:
    """Builds, checks and compiles a hypermodel's models as the tuner's arguments say.

    Args:
        hypermodel: The hypermodel, or None (a tuner whose ``run_trial`` builds).
        max_model_size: The most parameters a model may have; bigger ones fail the trial.
        optimizer: Overrides the optimizer the model was compiled with.
        loss: Overrides the loss.
        metrics: Overrides the metrics.
        distribution_strategy: A ``tf.distribute.Strategy`` to build models under.
    """

    def __init__(
        self,
        hypermodel: HyperModel | None,
        max_model_size: int | None = None,
        optimizer: Any = None,
        loss: Any = None,
        metrics: Any = None,
        distribution_strategy: Any = None,
    ) -> None:
        self.hypermodel = hypermodel
        self.max_model_size = max_model_size
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.distribution_strategy = distribution_strategy
        self._training = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_training": 0, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def build(self, hp: HyperParameters) -> Any:
        """``hypermodel.build(hp)`` under the distribution strategy, unchecked.

        Raises:
            FatalValueError: There is no hypermodel.
        """
        if self.hypermodel is None:
            raise errors.FatalValueError(
                "This tuner has no hypermodel: pass one, or override run_trial()."
            )
        if self.distribution_strategy is not None:
            with self.distribution_strategy.scope():
                return self.hypermodel.build(hp)
        return self.hypermodel.build(hp)

    @staticmethod
    def check_keras_model(model: Any) -> None:
        """Raises ``FatalTypeError`` unless ``model`` is a ``keras.Model``."""
        import keras

        if not isinstance(model, keras.Model):
            raise errors.FatalTypeError(
                "The hypermodel's build() (or build_model(hp)) must return a keras.Model, "
                f"got {type(model).__name__}: {model!r}."
            )

    def build_checked(self, hp: HyperParameters) -> Any:
        """Builds a Keras model, checks its size and applies the compile overrides.

        Raises:
            FailedTrialError: The model has more than ``max_model_size`` parameters.
            FatalTypeError: The hypermodel did not return a ``keras.Model``.
        """
        model = self.build(hp)
        self.check_keras_model(model)
        if self.max_model_size is not None and model.built:
            size = model.count_params()
            if size > self.max_model_size:
                raise errors.FailedTrialError(
                    f"Oversized model: {size} parameters, more than max_model_size="
                    f"{self.max_model_size}."
                )
        if self.optimizer is not None or self.loss is not None or self.metrics is not None:
            model.compile(
                optimizer=copy.deepcopy(self.optimizer) if self.optimizer else model.optimizer,
                loss=self.loss if self.loss is not None else model.loss,
                metrics=self.metrics,
            )
        return model

    def build_seeded(self, hp: HyperParameters, seed: int) -> Any:
        """Frees the previous model's memory, seeds Keras with ``seed`` and builds (checked).

        What every execution of a trial, and a retrain of it, starts with.
        """
        import keras

        self._free_memory()
        keras.utils.set_random_seed(int(seed))
        return self.build_checked(hp)

    def fit(self, hp: HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        """``hypermodel.fit(hp, model, ...)``: trains ``model`` with ``search``'s arguments."""
        return self.hypermodel.fit(hp, model, *args, **kwargs)  # type: ignore[union-attr]

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Marks a trial training in this process, so that no build clears its session."""
        with self._lock:
            self._training += 1
        try:
            yield
        finally:
            with self._lock:
                self._training -= 1

    def _free_memory(self) -> None:
        """Clears the Keras session and collects garbage before a build.

        ``clear_session`` is process-wide, so it waits until this is the only
        trial training in the process.
        """
        import keras

        with self._lock:
            if self._training <= 1:
                keras.backend.clear_session(free_memory=False)  # heap.collect() does it
        heap.collect()
