"""The deployments on real services: a Prefect server and ``hyperflow serve`` as processes.

The test serves the deployments in a process of its own (own ``PREFECT_HOME``)
against the session's temporary Prefect server (a ``uvicorn`` process of
Prefect's server app, as ``prefect server start`` runs), then does what the
UI's *Run > Custom run* button does: creates a flow run of the ``search``
deployment with a changed spec (``POST /deployments/{id}/create_flow_run``,
through the Prefect client). The served process runs it; the test waits for
it, then runs the ``retrain`` deployment the same way and checks the MLflow
runs and the registry. The served process is always stopped at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits.py"
SERVE_START_S = 90
FLOW_RUN_S = 300


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without its Prefect settings, with the session's server's API."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=PREFECT_API_URL.value(),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        DO_NOT_TRACK="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _start(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen | None) -> None:
    """Stops a process started here and its children (its own session), politely then firmly."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=20)


def _wait(what: str, check: Any, timeout: float, processes: list[subprocess.Popen]) -> Any:
    """Polls ``check()`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"waiting for {what}: {process.args[:4]} exited ({process.returncode})")
        try:
            value = check()
        except Exception:  # not up yet
            value = None
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"{what} not ready after {timeout} s")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.mark.slow
def test_search_and_retrain_deployments_run_a_custom_spec_from_the_run_button(
    tmp_path, template_dir
):
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client

    from tests.store_copies import copy_store

    env = _clean_env(tmp_path / "prefect_home")
    store = copy_store(template_dir, tmp_path / "store")  # the served flows skip the migration
    default_spec = {
        "project_name": "served-default",
        "hypermodel": f"{DIGITS}:build_model",
        "data": f"{DIGITS}:load",
        "tuner": "BayesianOptimization",
        "max_trials": 5,
        "epochs": 3,
        "directory": str(store),
    }
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(default_spec))
    serve_log = tmp_path / "serve.log"
    serve = None
    try:
        serve = _start(
            [sys.executable, "-m", "flows.cli", "serve", "--spec", str(spec_file),
             "--cron", "0 2 * * *"],
            env, serve_log, tmp_path,
        )  # fmt: skip

        with get_client(sync_client=True) as client:

            def deployment(name: str) -> Any:
                return client.read_deployment_by_name(name)

            names = ["hyperflow-nightly/nightly", "hyperflow-search-spec/search",
                     "hyperflow-retrain/retrain"]  # fmt: skip
            nightly, search, retrain = _wait(
                "the served deployments",
                lambda: [deployment(name) for name in names],
                SERVE_START_S,
                [serve],
            )
            # The nightly schedule is 02:00; the other two have none.
            assert [s.schedule.cron for s in nightly.schedules] == ["0 2 * * *"]
            assert search.schedules == [] and retrain.schedules == []
            # The form's defaults are the spec file's values.
            assert search.parameters["spec"]["project_name"] == "served-default"
            assert "SearchSpec" in str(search.parameter_openapi_schema)

            # Run > Custom run: the default spec with a few fields changed.
            custom = {
                **search.parameters["spec"],
                "project_name": "served",
                "tuner": "RandomSearch",
                "max_trials": 2,
                "epochs": 1,
                "verbose": 0,
            }
            run = client.create_flow_run_from_deployment(search.id, parameters={"spec": custom})
            # A field of the wrong type: the server refuses the run, as the form does.
            with pytest.raises(Exception, match="max_trials"):
                client.create_flow_run_from_deployment(
                    search.id, parameters={"spec": {**custom, "max_trials": "ten"}}
                )
            # An import path that does not resolve: the run fails at once, naming it.
            bad = client.create_flow_run_from_deployment(
                search.id,
                parameters={"spec": {**custom, "hypermodel": "no_such_module:build"}},
            )

            def finished(flow_run_id: Any) -> Any:
                state = client.read_flow_run(flow_run_id).state
                return state if state is not None and state.is_final() else None

            state = _wait("the search flow run", lambda: finished(run.id), FLOW_RUN_S, [serve])
            assert state.is_completed(), _tail(serve_log)
            state = _wait("the failing flow run", lambda: finished(bad.id), FLOW_RUN_S, [serve])
            assert state.is_failed()
            assert "hypermodel" in state.message and "no_such_module" in state.message

            run = client.create_flow_run_from_deployment(
                retrain.id, parameters={"project_name": "served"}
            )
            state = _wait("the retrain flow run", lambda: finished(run.id), FLOW_RUN_S, [serve])
            assert state.is_completed(), _tail(serve_log)
    except BaseException:
        print("--- hyperflow serve ---\n" + _tail(serve_log))
        raise
    finally:
        _stop(serve)

    mlflow = MlflowClient(tracking_uri=f"sqlite:///{store}/mlflow.db")
    experiment = mlflow.get_experiment_by_name("served")
    assert experiment is not None
    runs = mlflow.search_runs([experiment.experiment_id])
    kinds = sorted(r.data.tags.get("hyperflow.kind") for r in runs)
    assert kinds == ["retrain", "search", "trial", "trial"]
    [parent] = [r for r in runs if r.data.tags["hyperflow.kind"] == "search"]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["tuner"] == "RandomSearch" and parent.data.params["max_trials"] == "2"
    artifacts = {a.path for a in mlflow.list_artifacts(parent.info.run_id)}
    assert {"spec.json", "leaderboard.json", "plots"} <= artifacts
    [retrained] = [r for r in runs if r.data.tags["hyperflow.kind"] == "retrain"]
    assert retrained.data.tags["hyperflow.search_run_id"] == parent.info.run_id
    champion = mlflow.get_model_version_by_alias("served", "champion")
    assert str(champion.version) == "1" and champion.run_id == retrained.info.run_id
    assert mlflow.get_experiment_by_name("served-default") is None  # the custom spec ran


def test_prefect_yaml_declares_the_same_deployments_with_valid_parameters(monkeypatch):
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import load_flow_from_entrypoint

    from deployments.serve import DEFAULT_SPEC
    from flows.spec import load_spec, validate_spec

    monkeypatch.chdir(ROOT)  # prefect deploy runs from the repository root
    config = PrefectYamlModel.model_validate(
        yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    )
    deployments = {d.name: d for d in config.deployments}
    assert set(deployments) == {"nightly", "search", "retrain"}
    assert [(s.cron, s.timezone) for s in deployments["nightly"].schedules] == [
        ("0 2 * * *", "UTC")
    ]
    assert not deployments["search"].schedules and not deployments["retrain"].schedules
    flows = {name: load_flow_from_entrypoint(d.entrypoint) for name, d in deployments.items()}
    assert {name: flow.name for name, flow in flows.items()} == {
        "nightly": "hyperflow-nightly",
        "search": "hyperflow-search-spec",
        "retrain": "hyperflow-retrain",
    }
    shipped = load_spec(DEFAULT_SPEC)
    for name in ("nightly", "search"):
        assert validate_spec(deployments[name].parameters["spec"]) == shipped
    assert deployments["retrain"].parameters["project_name"] == shipped.project_name
