"""Settings every test needs before Prefect, MLflow or TensorFlow is imported."""

from __future__ import annotations

import os

# No network here: no telemetry, and a slow machine needs time to start Prefect's server.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if not os.environ.get("PREFECT_API_URL"):
    os.environ.pop("PREFECT_API_URL", None)
