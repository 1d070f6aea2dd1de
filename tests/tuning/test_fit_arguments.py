"""Arguments every trial would fail on are refused by ``search``, before any trial runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tuning as kt
from tuning.fit_arguments import check_fit_arguments
from tuning.objective import create_objective

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")

X = np.zeros((20, 4), "float32")
Y = np.zeros((20,), "int64")
VAL = create_objective("val_accuracy")
LOSS = create_objective("loss")


def _check(objective=VAL, default_fit=True, *args, **kwargs):
    check_fit_arguments(args, kwargs, objective, default_fit)


@pytest.mark.parametrize("batch_size", [0, -8, 1.5, True])
def test_batch_size_must_be_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        _check(LOSS, True, X, Y, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size"):
        _check(LOSS, True, X, Y, batch_size)  # positionally, as keras.Model.fit takes it


def test_callbacks_must_be_a_list_of_copyable_callbacks():
    import keras

    with pytest.raises(ValueError, match="callbacks must be a list"):
        _check(LOSS, True, X, Y, callbacks=keras.callbacks.EarlyStopping())

    class Locked(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    with pytest.raises(ValueError, match="deep-copyable"):
        _check(LOSS, True, X, Y, callbacks=[Locked()])


@pytest.mark.parametrize(
    ("validation_data", "match"),
    [
        ((X,), r"\(x_val, y_val\)"),
        ((X, Y, Y, Y), r"\(x_val, y_val\)"),
        ((X, Y[:5]), "20 rows of x_val but 5 of y_val"),
        ((np.zeros((20, 3)), Y), r"shape \(3,\).*shape \(4,\)"),
    ],
)
def test_validation_data_must_match_the_training_data(validation_data, match):
    with pytest.raises(ValueError, match=match):
        _check(VAL, True, X, Y, validation_data=validation_data)


def test_a_val_objective_needs_validation_data_or_a_split():
    with pytest.raises(ValueError, match="'val_accuracy' is measured on validation data"):
        _check(VAL, True, X, Y, epochs=2)
    _check(VAL, True, X, Y, validation_split=0.2)
    _check(VAL, True, X, Y, validation_data=(X, Y))
    _check(VAL, True, X, Y, validation_data=(X, Y, np.ones(20)))
    # A custom fit (or run_trial) may make its own validation split.
    _check(VAL, False, X, Y)
    _check(LOSS, True, X, Y)


def test_search_refuses_bad_arguments_before_any_trial(tmp_path):
    def build(hp):
        raise AssertionError("no model is built for arguments that are refused")

    tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=2, directory=tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        tuner.search(X, Y, batch_size=0, validation_split=0.2)
    with pytest.raises(ValueError, match="validation"):
        tuner.search(X, Y)
    assert tuner.oracle.trials == {}


@pytest.mark.parametrize("executions", [1.5, 0, "2", True])
def test_executions_per_trial_must_be_a_positive_integer(tmp_path, executions):
    with pytest.raises(ValueError, match="executions_per_trial must be a positive integer"):
        kt.RandomSearch(lambda hp: None, executions_per_trial=executions, directory=tmp_path)


def test_an_enqueued_name_the_space_lacks_is_refused_before_any_trial(tmp_path):
    import keras

    def build(hp):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("units", 1, 4))])
        model.compile(loss="mse")
        return model

    tuner = kt.RandomSearch(build, objective="loss", max_trials=2, directory=tmp_path)
    tuner.oracle.enqueue_trial({"unit": 2})  # a typo of "units"
    with pytest.raises(ValueError, match=r"\['unit'\] are not hyperparameters.*\['units'\]"):
        tuner.search(X, Y)
    assert tuner.oracle.trials == {}


def test_enqueued_values_that_activate_more_layers_are_accepted(tmp_path):
    import keras

    def build(hp):
        model = keras.Sequential([keras.Input((4,))])
        for i in range(hp.Int("layers", 1, 3)):  # units_1, units_2 exist only for more layers
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 1, 4)))
        model.compile(loss="mse")
        return model

    tuner = kt.RandomSearch(build, objective="loss", max_trials=1, directory=tmp_path)
    tuner.oracle.enqueue_trial({"layers": 3, "units_2": 2})
    tuner.check_search_arguments((X, Y), {})
    tuner.oracle.enqueue_trial({"layers": 3, "units_3": 2})
    with pytest.raises(ValueError, match=r"\['units_3'\] are not hyperparameters"):
        tuner.check_search_arguments((X, Y), {})
