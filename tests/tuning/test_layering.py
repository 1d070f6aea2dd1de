"""The search core stays light: no Prefect, TensorFlow, Keras or MLflow behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = ("tuning.oracles", "tuning.hyperparameters", "tuning.objective", "tuning.trial")
HEAVY = ("prefect", "tensorflow", "keras", "mlflow")


def test_the_search_core_imports_no_heavy_framework():
    code = (
        "import json, sys\n"
        f"import {', '.join(CORE)}, tuning.pruning, tuning.errors\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"heavy modules imported: {result.stdout}"
