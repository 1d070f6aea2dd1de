"""The ``hyperflow`` CLI and the search spec: help, bad specs, and a spec run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from flows.cli import main
from flows.spec import SearchSpec, SpecError, load_spec, validate_spec

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits.py"
COMMANDS = ["search", "retrain", "summary", "serve", "ui"]


def spec_data(directory: Path, **fields: object) -> dict[str, object]:
    return {
        "project_name": "cli-digits",
        "hypermodel": f"{DIGITS}:build_model",
        "data": f"{DIGITS}:load",
        "tuner": "RandomSearch",
        "max_trials": 2,
        "epochs": 1,
        "directory": str(directory),
        "seed": 2,
        **fields,
    }


def write_spec(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


# Help ------------------------------------------------------------------------------------


def test_console_script_and_help_for_every_command():
    script = Path(sys.executable).with_name("hyperflow")
    assert script.exists(), "reinstall: pip install -e . registers the hyperflow script"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    for command in COMMANDS:
        result = subprocess.run(
            [sys.executable, "-m", "flows.cli", command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: hyperflow {command}")


def test_ui_prints_local_addresses(tmp_path, capsys):
    assert main(["ui", "--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "prefect server start --host 127.0.0.1 --port 4200" in out
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path}/mlflow.db --host 127.0.0.1" in out
    assert "PREFECT_API_URL=http://127.0.0.1:4200/api" in out


# Bad specs -------------------------------------------------------------------------------


def test_missing_spec_file_is_a_clear_error(tmp_path, capsys):
    assert main(["search", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "hyperflow search: error: Spec file" in err and "nope.yaml" in err and "not found" in err


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"hypermodel": "no_such_package.models:build"}, "hypermodel: cannot import"),
        ({"data": f"{DIGITS}:nothing"}, "data: '"),
        ({"hypermodel": "examples/missing.py:build"}, "hypermodel: file 'examples/missing.py'"),
        ({"hypermodel": "json"}, "hypermodel: 'json' is not an import path"),
        ({"tuner": "Annealing"}, "tuner: Input should be 'RandomSearch'"),
        ({"max_trials": "ten"}, "max_trials: Input should be a valid integer"),
        ({"epochs": 0}, "epochs: Input should be greater than or equal to 1"),
        ({"tuner_args": {"max_epoch": 3}}, "tuner_args: RandomSearch has no argument 'max_epoch'"),
        ({"tuner_args": {"max_trials": 3}}, "tuner_args: 'max_trials' is set by the spec's own"),
        ({"tuner": "BayesianOptimization", "tuner_args": {"beta": -1}}, "beta must be >= 0"),
        ({"learning_rate": 0.1}, "learning_rate: Extra inputs are not permitted"),
        (
            {"objective": ["val_accuracy", "params"]},
            "Could not infer whether to minimise or maximise the objective 'params'",
        ),
        (
            {"objective": ["val_accuracy", "val_loss"], "champion": {"metric": "accuracy"}},
            "champion: names ['accuracy'], which are not among the objectives",
        ),
        ({"champion": {"metric": "val_accuracy"}}, "champion is for a search of several"),
        (
            {"tuner": "BayesianOptimization", "tuner_args": {"multi_objective": "pareto"}},
            'multi_objective="pareto" needs a list of at least two objectives',
        ),
    ],
)
def test_bad_specs_are_rejected_naming_the_field(tmp_path, capsys, fields, expected):
    path = write_spec(tmp_path / "bad.yaml", spec_data(tmp_path / "store", **fields))

    with pytest.raises(SpecError, match="Invalid search spec") as raised:
        load_spec(path)
    assert expected in str(raised.value)

    assert main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert not (tmp_path / "store").exists()  # nothing ran


def test_every_problem_is_listed_and_yaml_must_be_a_mapping(tmp_path):
    with pytest.raises(SpecError) as raised:
        validate_spec({"project_name": "", "max_trials": 0})
    message = str(raised.value)
    for field in ("project_name", "hypermodel", "data", "max_trials"):
        assert f"  {field}: " in message
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must hold a mapping"):
        load_spec(path)


def test_relative_paths_resolve_against_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    spec = validate_spec(
        {"project_name": "p", "hypermodel": "examples/digits.py:build_model",
         "data": "examples/digits.py:load", "directory": "results"}
    )  # fmt: skip
    assert spec.hypermodel == f"{DIGITS}:build_model"
    assert spec.directory == str(ROOT / "results")
    # Module paths stay as they are; the JSON form round-trips.
    spec = validate_spec(spec_data(tmp_path, hypermodel="tests.flows.helpers:build_dense"))
    assert spec.hypermodel == "tests.flows.helpers:build_dense"
    assert SearchSpec.model_validate(spec.model_dump(mode="json")) == spec


def test_spec_is_a_form_in_the_prefect_ui():
    from prefect.utilities.callables import parameter_schema

    from flows.spec import search_spec_flow

    schema = parameter_schema(search_spec_flow).model_dump()
    fields = schema["definitions"]["SearchSpec"]["properties"]
    assert schema["required"] == ["spec"]
    assert fields["tuner"]["enum"] == [
        "RandomSearch",
        "GridSearch",
        "BayesianOptimization",
        "Hyperband",
    ]
    assert fields["max_trials"]["default"] == 10 and fields["epochs"]["minimum"] == 1
    assert "Import path" in fields["hypermodel"]["description"]


# End to end ------------------------------------------------------------------------------


def test_search_summary_and_retrain_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich fits the table to the terminal's width
    store = tmp_path / "store"
    path = write_spec(tmp_path / "digits.yaml", spec_data(store, verbose=2))

    assert main(["search", str(path), "--set", "max_trials=2"]) == 0
    out = capsys.readouterr().out
    assert "Trial 2 Complete [" in out and "Best val_accuracy So Far:" in out
    assert "Search of cli-digits: 2 of 2 trials completed" in out

    client = MlflowClient(tracking_uri=f"sqlite:///{store}/mlflow.db")
    experiment = client.get_experiment_by_name("cli-digits")
    [parent] = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hyperflow.kind` = 'search'"
    )
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"spec.json", "leaderboard.json", "search_space.json"} <= artifacts
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert plots == {"plots/optimisation_history.png", "plots/hyperparameter_importance.png"}
    png = client.download_artifacts(
        parent.info.run_id, "plots/optimisation_history.png", str(tmp_path)
    )
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    location = ["--directory", str(store)]
    assert main(["summary", "cli-digits", *location]) == 0
    out = capsys.readouterr().out
    assert parent.info.run_id in out and "RandomSearch" in out
    for column in ("rank", "trial_id", "score", "units_0", "lr"):
        assert column in out
    assert "No champion yet" in out

    assert main(["retrain", "cli-digits", *location]) == 0
    out = capsys.readouterr().out
    assert "Registered cli-digits version 1" in out and "now the champion" in out

    assert main(["summary", "cli-digits", *location]) == 0
    assert "Champion: models:/cli-digits@champion = version 1" in capsys.readouterr().out

    assert main(["summary", "no-such-project", *location]) == 1
    assert "no search of 'no-such-project'" in capsys.readouterr().err
    # Asking about a project leaves no empty experiment behind.
    assert client.get_experiment_by_name("no-such-project") is None


def test_digits_example_runs_its_spec_then_retrains(migrated, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("hyperflow_examples.digits", DIGITS)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]

    result = module.main(max_trials=1, epochs=1, directory=str(migrated), project_name="ex")

    assert result["version"] == "1" and result["promoted"]
    out = capsys.readouterr().out
    assert "Best trial 00: val_accuracy" in out and "Registered ex version 1" in out
    (x_train, y_train), (x_val, _), (x_test, y_test) = module.load()
    assert len(x_train) + len(x_val) + len(x_test) == 1797 and x_train.shape[1] == 64
    assert set(y_test) == set(range(10))  # stratified: every digit is held out
