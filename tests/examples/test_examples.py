"""Every script in ``examples/`` runs end to end at a tiny budget and prints what KerasTuner prints.

Each example is imported by path (``examples/`` is not a package) and its
``main`` called with one or two trials of one epoch, writing under ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import tuning as kt

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The seed documents' examples (and the quickstart), each tested below.
SEED_EXAMPLES = (
    "building_blocks",
    "builtin_hypermodels",
    "custom_objective",
    "getting_started",
    "hyperband_walkthrough",
    "hypermodel_subclass",
    "keep_keras_code_separate",
    "lstm_regression",
    "quickstart",
    "run_trial_any_function",
    "tune_fit",
)


def load_example(name: str) -> ModuleType:
    """Imports ``examples/<name>.py`` as the module ``hyperflow_examples.<name>``."""
    module_name = f"hyperflow_examples.{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def completed(tuner: kt.Tuner) -> list[kt.Trial]:
    return [t for t in tuner.oracle.trials.values() if t.status == kt.TrialStatus.COMPLETED]


def assert_results_summary(out: str, tuner: kt.Tuner) -> None:
    assert "Results summary" in out
    assert f"Results in {tuner.project_dir}" in out
    for trial in tuner.oracle.trials.values():
        assert f"Trial {trial.trial_id} summary" in out
    assert "Score: " in out


@pytest.mark.parametrize("name", SEED_EXAMPLES)
def test_example_is_a_script_with_a_main(name):
    source = (EXAMPLES / f"{name}.py").read_text()
    assert "def main(" in source and 'if __name__ == "__main__":' in source
    assert "import tuning as kt" in source or "from tuning import" in source
    assert not re.search(r"^\s*(import|from)\s+(keras_tuner|kerastuner)\b", source, re.M)
    assert source.startswith('"""')
    if name != "quickstart":  # the others say which seed section they follow
        assert "seed 00" in source.split('"""')[1].lower()


def test_quickstart(tmp_path, capsys):
    tuner = load_example("quickstart").main(max_trials=1, epochs=1, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 1
    assert "Search space summary" in out
    assert_results_summary(out, tuner)
    assert "Best model's validation accuracy" in out


def test_getting_started(tmp_path, capsys):
    tuner = load_example("getting_started").main(
        max_trials=2, epochs=1, executions_per_trial=1, directory=str(tmp_path)
    )
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 2
    # hp.Int(...) on a fresh HyperParameters returns min_value.
    assert "\n32\n" in out
    assert "Search space summary\nDefault search space size: 5\nnum_layers (Int)" in out
    for name in ("units_0 (Int)", "activation (Choice)", "dropout (Boolean)", "lr (Float)"):
        assert name in out
    assert "Trial 2 Complete [" in out and "Best val_accuracy So Far: " in out
    assert_results_summary(out, tuner)
    # Conditional units: one units_i per layer.
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        assert {f"units_{i}" for i in range(values["num_layers"])} <= set(values)
        assert 1e-4 <= values["lr"] <= 1e-2
    assert "Test accuracy of the retrained model" in out


def test_tune_fit(tmp_path, capsys):
    tuner = load_example("tune_fit").main(max_trials=2, epochs=1, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 2
    best = tuner.get_best_hyperparameters()[0].values
    assert 4 <= best["image_size"] <= 8
    # Declared in fit(), not in build(): discovered during the first trial.
    assert isinstance(best["normalize"], bool) and isinstance(best["shuffle"], bool)
    assert "Best hyperparameters:" in out


def test_custom_objective(tmp_path, capsys):
    tuners = load_example("custom_objective").main(max_trials=1, epochs=1, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert set(tuners) == {"built_in_metrics", "custom_metrics", "custom_eval", "custom_eval_dict"}
    for tuner in tuners.values():
        assert len(completed(tuner)) == 1
        assert_results_summary(out, tuner)
    assert 'Objective(name="val_mean_absolute_error", direction="min")' in out
    assert 'Objective(name="val_custom_metric", direction="min")' in out
    assert (
        'Objective(name="default_objective", direction="min")' in out
        and "default_objective: " in out
    )
    assert 'Objective(name="metric_a", direction="max")' in out
    [trial] = tuners["custom_eval_dict"].oracle.trials.values()
    assert trial.score < 0  # metric_a is minus a mean absolute error
    assert trial.metrics.exists("metric_b")
    [trial] = tuners["custom_metrics"].oracle.trials.values()
    assert trial.metrics.exists("val_custom_metric")


def test_run_trial_any_function(tmp_path, capsys):
    tuner = load_example("run_trial_any_function").main(max_trials=20, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 20
    [best_trial] = tuner.oracle.get_best_trials(1)
    x = best_trial.hyperparameters.get("x")
    assert best_trial.score == pytest.approx(x * x + 1)
    # 20 uniform draws in [-1, 1]: |x| > 0.35 for all of them has odds 0.65**20 < 2e-4.
    assert abs(x) < 0.35
    assert float(out.strip().splitlines()[-1]) == pytest.approx(x)
    assert "Best default_objective So Far: " in out


def test_keep_keras_code_separate(tmp_path, capsys):
    tuner = load_example("keep_keras_code_separate").main(max_trials=2, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 2
    for trial_id in tuner.oracle.trials:
        assert (Path(tuner.project_dir) / f"{trial_id}.keras").is_file()
    assert (Path(tuner.project_dir) / "best_model.keras").is_file()
    assert Path(tuner.project_dir).is_relative_to(tmp_path)
    assert math.isfinite(float(out.strip().splitlines()[-1]))


def test_building_blocks(tmp_path, capsys):
    made = load_example("building_blocks").main(max_trials=1, epochs=1, directory=str(tmp_path))
    out = capsys.readouterr().out
    assert len(completed(made["tuners"])) == 1
    assert len(completed(made["hypermodel"])) == 1
    assert out.count("Best Model:") == 2 and out.count("Best Hyperparameters:") == 2
    # Example 4 resumes example 1's finished project instead of searching again.
    first, resumed = made["tuners"], made["trials"]
    assert {t: v.values for t, v in resumed.oracle.trials.items()} == {
        t: v.values for t, v in first.oracle.trials.items()
    }
    assert "Trial ID:" in out and "Metrics:" in out
    model = made["hyperparameters"]
    assert model.predict(np.zeros((3, 64), "float32"), verbose=0).shape == (3, 10)


def test_hypermodel_subclass(tmp_path, capsys):
    tuner = load_example("hypermodel_subclass").main(
        max_trials=1, epochs=1, executions_per_trial=2, directory=str(tmp_path)
    )
    out = capsys.readouterr().out
    [trial] = completed(tuner)
    dropout = trial.hyperparameters.values["dropout"]
    assert any(dropout == pytest.approx(v) for v in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
    assert "Search space summary" in out and "dropout (Float)" in out
    # search(verbose=0) silences the trial display, as in KerasTuner.
    assert "Trial 1 Complete" not in out
    assert "The hyperparameter search is complete." in out


def test_lstm_regression(tmp_path, capsys):
    tuner, best_model = load_example("lstm_regression").main(
        max_trials=2, epochs=1, directory=str(tmp_path), n_points=120
    )
    out = capsys.readouterr().out
    assert len(completed(tuner)) == 2
    assert str(tuner.oracle.objective) == 'Objective(name="val_loss", direction="min")'
    assert "units: " in out and "kernel: " in out
    assert best_model.predict(np.zeros((5, 12, 1), "float32"), verbose=0).shape == (5, 1)


def test_hyperband_walkthrough(tmp_path, capsys):
    tuner, best_model, best_epoch = load_example("hyperband_walkthrough").main(
        max_epochs=2, epochs=2, directory=str(tmp_path)
    )
    out = capsys.readouterr().out
    # Hyperband(max_epochs=2, factor=3): one bracket of two trials.
    trials = completed(tuner)
    assert len(trials) == 2
    assert all(t.hyperparameters.values["tuner/epochs"] == 2 for t in trials)
    assert best_epoch in (1, 2)
    assert "超调结束" in out and "测试集准确率" in out
    assert best_model.predict(np.zeros((4, 8, 8), "float32"), verbose=0).shape == (4, 10)


def _tailored(**choices: list) -> kt.HyperParameters:
    """KerasTuner's "tailor the search space": declared first, these override the hypermodel's."""
    hp = kt.HyperParameters()
    for name, values in choices.items():
        hp.Choice(name, values)
    return hp


# ResNet-50 depth is HyperResNet's smallest: one epoch on 16 images of 8x8 still compiles a
# 50-layer graph (about a minute on 2 CPU cores; ResNet-152 depth takes three).
@pytest.mark.slow
def test_builtin_hyperresnet(tmp_path, capsys):
    hp = _tailored(version=["v2"], conv3_depth=[4], conv4_depth=[6])
    tuners = load_example("builtin_hypermodels").main(
        max_trials=1,
        epochs=1,
        directory=str(tmp_path),
        num_samples=16,
        hypermodels=("resnet",),
        hyperparameters={"resnet": hp},
    )
    out = capsys.readouterr().out
    [trial] = completed(tuners["resnet"])
    values = trial.hyperparameters.values
    assert (values["version"], values["conv3_depth"], values["conv4_depth"]) == ("v2", 4, 6)
    assert values["pooling"] in ("avg", "max")
    assert values["optimizer"] in ("adam", "rmsprop", "sgd")
    assert "val_accuracy: " in out


def test_builtin_hyperxception(tmp_path, capsys):
    hp = kt.HyperParameters()
    hp.Int("num_residual_blocks", 2, 2)
    hp.Int("sep_num_filters", 128, 128, step=128)
    tuners = load_example("builtin_hypermodels").main(
        max_trials=1,
        epochs=1,
        directory=str(tmp_path),
        num_samples=16,
        hypermodels=("xception",),
        hyperparameters={"xception": hp},
    )
    out = capsys.readouterr().out
    [trial] = completed(tuners["xception"])
    values = trial.hyperparameters.values
    assert (values["num_residual_blocks"], values["sep_num_filters"]) == (2, 128)
    assert values["activation"] in ("relu", "selu")
    assert "val_accuracy: " in out


def test_builtin_hyperxception_with_fixed_values(tmp_path, capsys):
    hp = kt.HyperParameters()
    hp.Fixed("num_residual_blocks", 2)
    hp.Fixed("sep_num_filters", 128)
    tuners = load_example("builtin_hypermodels").main(
        max_trials=1,
        epochs=1,
        directory=str(tmp_path),
        num_samples=16,
        hypermodels=("xception",),
        hyperparameters={"xception": hp},
    )
    [trial] = completed(tuners["xception"])
    values = trial.hyperparameters.values
    assert (values["num_residual_blocks"], values["sep_num_filters"]) == (2, 128)
    assert 0.0 <= values["dropout_rate"] <= 0.6  # the rest is still tuned
