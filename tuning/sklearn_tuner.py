"""KerasTuner's ``SklearnTuner``: cross-validated search over scikit-learn estimators.

Every trial builds an estimator from its hyperparameters, cross-validates it,
reports the mean score as the metric ``score`` (maximised), refits it on all
the data and logs it to the trial's MLflow run in the ``sklearn`` flavor. The
search itself is the same Prefect flow as every other tuner's, with the same
resume and failure rules. Neither TensorFlow nor Keras is imported.

Example::

    import tuning as kt
    from sklearn import ensemble, linear_model

    def build_model(hp):
        if hp.Choice("model_type", ["random_forest", "ridge"]) == "random_forest":
            return ensemble.RandomForestClassifier(
                n_estimators=hp.Int("n_estimators", 10, 50, step=10),
                max_depth=hp.Int("max_depth", 3, 10),
            )
        return linear_model.RidgeClassifier(alpha=hp.Float("alpha", 1e-3, 1, sampling="log"))

    tuner = kt.SklearnTuner(
        oracle=kt.BayesianOptimizationOracle(
            objective=kt.Objective("score", "max"), max_trials=10
        ),
        hypermodel=build_model,
        scoring="accuracy",
        directory=".",
        project_name="my_project",
    )
    tuner.search(X_train, y_train)
    best_model = tuner.get_best_models(num_models=1)[0]
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import sklearn.base
    import sklearn.metrics
    import sklearn.model_selection
    import sklearn.pipeline
    import sklearn.utils
    import sklearn.utils.validation
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "SklearnTuner needs scikit-learn: pip install 'hyperflow[sklearn]'"
    ) from error

from tuning import errors
from tuning.base_tuner import BaseTuner
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters
from tuning.objective import DefaultObjective, Objective
from tuning.oracles.base import Oracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.trial import Trial

__all__ = ["SklearnTuner"]

SCORE = "score"

# Tuner arguments that only mean something for Keras models.
_KERAS_ONLY = (
    "max_model_size",
    "optimizer",
    "loss",
    "distribution_strategy",
    "executions_per_trial",
)


class SklearnTuner(BaseTuner):
    """Cross-validated hyperparameter search for scikit-learn estimators.

    Each trial builds an estimator with ``hypermodel`` for every fold of
    ``cv``, fits it on the fold's training part and scores it on the rest;
    the mean over the folds is the trial's metric ``score``, which the search
    maximises. The means of ``metrics`` are reported beside it. The estimator
    is then refitted on all the data and logged to the trial's MLflow run (the
    ``sklearn`` flavor), where ``get_best_models()`` and ``load_model()``
    find it. An estimator whose ``fit`` (or scoring) raises makes an INVALID
    trial, retried as ``max_retries_per_trial`` allows, then FAILED; the
    search goes on.

    Args:
        oracle: The search algorithm, an ``Oracle`` whose objective is
            ``Objective("score", "max")``; one left with the default
            objective gets that one. Oracles that schedule epochs
            (``HyperbandOracle``) do not apply.
        hypermodel: A ``HyperModel`` or a function ``build_model(hp)`` that
            returns an unfitted scikit-learn estimator (anything with ``fit``).
        scoring: A scikit-learn scorer name (``"accuracy"``, ``"roc_auc"``,
            see ``sklearn.metrics.get_scorer_names()``) or a callable
            ``scorer(estimator, X, y)`` such as ``make_scorer(f1_score)``;
            None uses the estimator's own ``score``. Give one when the space
            mixes estimator families, so that they are scored alike.
        metrics: Further metrics to report (they do not steer the search): a
            callable ``metric(y_true, y_pred)``, a scorer name, or a list of
            these. Each is computed per fold and its mean reported under the
            function's (or scorer's) name.
        cv: A scikit-learn splitter (``KFold(3)``, ``GroupKFold(5)``, ...) or
            a number of folds, which means what it means to
            ``cross_val_score`` (stratified folds for classifiers). None is
            ``KFold(5, shuffle=True, random_state=1)``.
        **kwargs: ``BaseTuner`` arguments: ``directory``, ``project_name``,
            ``overwrite``, ``tracking_uri``, ``max_concurrent_trials``, ...

    Raises:
        TypeError: ``oracle``, ``hypermodel``, ``scoring``, ``metrics`` or
            ``cv`` is of the wrong kind.
        ValueError: An unknown scorer name, an objective other than
            ``score`` maximised, a Keras-only or unknown keyword argument.

    Example::

        tuner = kt.SklearnTuner(
            kt.oracles.RandomSearchOracle(max_trials=10),
            build_model,
            scoring="accuracy",
            metrics=[sklearn.metrics.f1_score],
            cv=sklearn.model_selection.StratifiedKFold(5),
        )
        tuner.search(X, y)
    """

    def __init__(
        self,
        oracle: Oracle,
        hypermodel: HyperModel | Callable[[HyperParameters], Any],
        scoring: str | Callable[..., float] | None = None,
        metrics: Any = None,
        cv: Any = None,
        **kwargs: Any,
    ) -> None:
        keras_only = sorted(set(kwargs) & set(_KERAS_ONLY))
        if keras_only:
            raise ValueError(
                f"Unrecognized arguments {keras_only} for `SklearnTuner`: they apply to Keras "
                "models only."
            )
        if hypermodel is None:
            raise TypeError(
                "hypermodel must be a HyperModel or a function build_model(hp) that returns a "
                "scikit-learn estimator, got None."
            )
        if isinstance(oracle, Oracle):  # (BaseTuner refuses anything else)
            if isinstance(oracle, HyperbandOracle):
                raise TypeError(
                    "oracle: HyperbandOracle schedules training epochs, which scikit-learn "
                    "estimators do not have; use RandomSearchOracle, GridSearchOracle or "
                    "BayesianOptimizationOracle."
                )
            if isinstance(oracle.objective, DefaultObjective):
                oracle.objective = Objective(SCORE, "max")  # before any search sees it
            elif oracle.objective != Objective(SCORE, "max"):
                raise ValueError(
                    "oracle: SklearnTuner reports the cross-validated score as the metric 'score', "
                    f'to maximise, so the objective must be Objective("score", "max") (or left '
                    f"unset), got {oracle.objective}."
                )
        self.scoring = scoring
        self._scorer = None if scoring is None else _scorer(scoring, "scoring")
        self._metrics = _check_metrics(metrics)
        self.metrics = [] if metrics is None else _as_list(metrics)
        self.cv = _check_cv(cv)
        super().__init__(oracle, hypermodel, **kwargs)

    # The search -----------------------------------------------------------------

    def search(  # type: ignore[override]
        self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None
    ) -> None:
        """Runs cross-validated trials until the oracle's budget is spent.

        Args:
            X: The samples: an array, a DataFrame or a sparse matrix.
            y: The targets.
            sample_weight: Weights of the samples: each fold's estimator is
                fitted with its training part, and scored with its test part
                where the scorer (or ``score``) accepts weights.
            groups: Group labels for splitters that use them (``GroupKFold``).

        Raises:
            ValueError: The lengths of ``X``, ``y``, ``sample_weight`` and
                ``groups`` differ, or ``cv`` cannot split this data.
            tuning.errors.FatalError: A trial raised one, or too many trials
                failed in a row; the trials that completed are kept.
        """
        try:
            sklearn.utils.validation.check_consistent_length(X, y, sample_weight, groups)
        except ValueError as error:
            raise ValueError(
                f"X, y, sample_weight and groups must have one entry per sample: {error}"
            ) from error
        if not isinstance(self.cv, numbers.Integral):
            try:
                next(iter(self.cv.split(X, y, **_groups(groups))))
            except (ValueError, TypeError, StopIteration) as error:
                raise ValueError(
                    f"cv={self.cv!r} cannot split the data: {error or 'it yields no split'}"
                ) from error
        super().search(X, y, sample_weight=sample_weight, groups=groups)

    def _search_params(self) -> dict[str, Any]:
        return {
            **super()._search_params(),
            "scoring": _describe(self.scoring) if self.scoring is not None else "estimator.score",
            "metrics": [name for name, _, _ in self._metrics],
            "cv": repr(self.cv),
        }

    def _build_for_space(self, hp: HyperParameters) -> None:
        """Builds an estimator to learn the space (no Keras session to clear)."""
        self._build_estimator(hp)

    # One trial ------------------------------------------------------------------

    def run_trial(  # type: ignore[override]
        self,
        trial: Trial,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        groups: Any = None,
    ) -> dict[str, float]:
        """Cross-validates the trial's estimator, then refits it on all data and logs it.

        Called by the train task with what ``search`` received.

        Returns:
            ``{"score": mean score, <metric name>: mean value, ...}`` over the folds.
        """
        hp = trial.hyperparameters
        values: dict[str, list[float]] = defaultdict(list)
        splitter = self.cv
        if isinstance(splitter, numbers.Integral):
            classifier = sklearn.base.is_classifier(self._build_estimator(hp))
            splitter = sklearn.model_selection.check_cv(splitter, y, classifier=classifier)
        for train, test in splitter.split(X, y, **_groups(groups)):
            model = self._build_estimator(hp)
            _fit(model, _take(X, train), _take(y, train), _take(sample_weight, train))
            x_test, y_test, weight = _take(X, test), _take(y, test), _take(sample_weight, test)
            if self._scorer is None:
                values[SCORE].append(_call_weighted(model.score, weight, x_test, y_test))
            else:
                values[SCORE].append(_call_weighted(self._scorer, weight, model, x_test, y_test))
            predictions = None
            for name, metric, is_scorer in self._metrics:
                if is_scorer:
                    values[name].append(_call_weighted(metric, weight, model, x_test, y_test))
                    continue
                if predictions is None:
                    predictions = model.predict(x_test)
                values[name].append(_call_weighted(metric, weight, y_test, predictions))
        results = {name: float(np.mean(v)) for name, v in values.items()}
        model = self._build_estimator(hp)
        _fit(model, X, y, sample_weight)
        self.save_model(trial.trial_id, model)
        return results

    def _build_estimator(self, hp: HyperParameters) -> Any:
        model = self.hypermodel.build(hp)  # type: ignore[union-attr]
        if not callable(getattr(model, "fit", None)):
            raise errors.FatalTypeError(
                "The hypermodel's build() (or build_model(hp)) must return a scikit-learn "
                f"estimator (with a fit() method), got {type(model).__name__}: {model!r}."
            )
        if self._scorer is None and not callable(getattr(model, "score", None)):
            raise errors.FatalValueError(
                f"{type(model).__name__} has no score() method: pass SklearnTuner(scoring=...)."
            )
        return model

    # Models ---------------------------------------------------------------------

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Logs ``model`` to the trial's MLflow run in the ``sklearn`` flavor."""
        self.store.models.log_model(self.executor.recorder(trial_id).run_id, model, "sklearn")

    def load_model(self, trial: Trial) -> Any:
        """Loads ``trial``'s estimator, refitted on all the data, from MLflow."""
        return self.store.models.load_model(self.trial_run_ids[trial.trial_id], "sklearn")


# Checking the arguments -----------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return value
    return getattr(value, "__name__", None) or repr(value)


def _scorer(value: Any, argument: str) -> Callable[..., float]:
    if isinstance(value, str):
        try:
            return sklearn.metrics.get_scorer(value)
        except ValueError as error:
            raise ValueError(
                f"{argument}={value!r} is not a scikit-learn scorer name; see "
                "sklearn.metrics.get_scorer_names()."
            ) from error
    if not callable(value):
        raise TypeError(
            f"{argument} must be a scorer name or a callable scorer(estimator, X, y), got "
            f"{type(value).__name__}: {value!r}."
        )
    return value


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_metrics(metrics: Any) -> list[tuple[str, Callable[..., Any], bool]]:
    """``metrics`` as ``(name, function, is_scorer)``: metric(y_true, y_pred) or scorer names."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(
            "metrics must be a callable metric(y_true, y_pred), a scorer name or a list of "
            f"these, got {type(metrics).__name__}: {metrics!r}."
        )
    checked: list[tuple[str, Callable[..., Any], bool]] = []
    for metric in metrics:
        if isinstance(metric, str):
            checked.append((metric, _scorer(metric, "metrics"), True))
        elif callable(metric):
            name = getattr(metric, "__name__", None) or getattr(
                getattr(metric, "func", None), "__name__", type(metric).__name__
            )
            checked.append((name, metric, False))
        else:
            raise TypeError(
                "metrics must hold callables metric(y_true, y_pred) or scorer names, got "
                f"{type(metric).__name__}: {metric!r}."
            )
    names = [SCORE] + [name for name, _, _ in checked]
    for name in names[1:]:
        if names.count(name) > 1:
            raise ValueError(
                f"metrics: two metrics would be reported as {name!r}"
                + (", the name of the cross-validated score." if name == SCORE else ".")
            )
    return checked


def _check_cv(cv: Any) -> Any:
    if cv is None:
        return sklearn.model_selection.KFold(5, shuffle=True, random_state=1)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds, got {cv!r}.")
        return int(cv)
    if not (callable(getattr(cv, "split", None)) and callable(getattr(cv, "get_n_splits", None))):
        raise TypeError(
            "cv must be a number of folds or a scikit-learn splitter with split() and "
            f"get_n_splits(), such as KFold(5); got {type(cv).__name__}: {cv!r}."
        )
    return cv


# Cross-validation helpers ---------------------------------------------------------------


def _groups(groups: Any) -> dict[str, Any]:
    """Splitters that use no groups may not accept the argument at all."""
    return {} if groups is None else {"groups": groups}


def _take(data: Any, indices: np.ndarray) -> Any:
    return None if data is None else sklearn.utils._safe_indexing(data, indices)


def _accepts_weights(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return any(
        p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


def _call_weighted(function: Callable[..., Any], weight: Any, *args: Any) -> float:
    """``function(*args)``, with ``sample_weight=weight`` when there are weights it accepts."""
    if weight is not None and _accepts_weights(function):
        return float(function(*args, sample_weight=weight))
    return float(function(*args))


def _fit(model: Any, X: Any, y: Any, sample_weight: Any) -> None:
    """Fits ``model``, passing the weights where ``fit`` (a pipeline's last step's) takes them."""
    if sample_weight is None:
        model.fit(X, y)
        return
    if isinstance(model, sklearn.pipeline.Pipeline):
        name, last = model.steps[-1]
        if last not in (None, "passthrough") and _accepts_weights(last.fit):
            model.fit(X, y, **{f"{name}__sample_weight": sample_weight})
            return
    elif _accepts_weights(model.fit):
        model.fit(X, y, sample_weight=sample_weight)
        return
    warnings.warn(
        f"{type(model).__name__}.fit() takes no sample_weight: fitted without the weights.",
        stacklevel=2,
    )
    model.fit(X, y)
