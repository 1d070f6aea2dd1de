"""The architecture holds: layers point down, no import cycle, one writer of the search state."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tuning", "tasks", "flows", "deployments")
CORE = ("tuning.oracles", "tuning.hyperparameters", "tuning.objective", "tuning.trial")
HEAVY = ("prefect", "tensorflow", "keras", "mlflow")

# The oracle's methods that change the search, and the one module allowed to call them.
ORACLE_MUTATORS = {
    "create_trial",
    "end_trial",
    "update_trial",
    "update_space",
    "set_state",
    "requeue_ongoing",
    "warm_start",
    "enqueue_trial",
}
ENGINE = "tuning.search_engine"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module of ours that ``path`` imports, function-level imports included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in names:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
    return targets


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return visiting[visiting.index(node) :] + [node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            found = visit(target)
            if found:
                return found
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node)
        if found:
            return found
    return None


def test_no_import_cycle_among_the_packages():
    modules = _modules()
    graph = {name: _imports(path, name, set(modules)) for name, path in modules.items()}

    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_tuning_reaches_prefect_only_through_the_search_entry_point():
    modules = _modules()
    reach_up = {}
    for name, path in modules.items():
        if not name.startswith("tuning"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for target in names:
                if target.split(".")[0] in ("prefect", "prefect_dask", "flows", "tasks"):
                    reach_up.setdefault(name, set()).add(target)

    assert reach_up == {"tuning.base_tuner": {"flows.search"}}


def test_only_the_engine_changes_the_oracle_or_saves_the_search_state():
    offenders = []
    for name, path in _modules().items():
        if name == ENGINE or name.startswith("tuning.oracles"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method, receiver = node.func.attr, node.func.value
            if _terminal(receiver) in ("engine", "_engine"):
                continue  # the engine's own methods of the same names
            saves_state = (
                method == "save"
                and isinstance(receiver, ast.Attribute)
                and receiver.attr == "state"
            )
            if method in ORACLE_MUTATORS or saves_state:
                offenders.append(f"{name}:{node.lineno} calls {method}()")

    assert offenders == []


def _terminal(node: ast.expr) -> str:
    """The last name of a call's receiver: ``engine`` for ``self.engine`` or ``self._engine()``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def test_the_search_core_imports_no_heavy_framework():
    result = _run(
        "import json, sys\n"
        f"import {', '.join(CORE)}, tuning.pruning, tuning.errors\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"heavy modules imported: {result.stdout}"
