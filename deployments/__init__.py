"""How the flows are served: nightly on a cron schedule, search and retrain on demand.

``deployments/serve.py`` (``hyperflow serve``) serves them from one process;
``deployments/prefect.yaml`` declares the same deployments for
``prefect deploy`` and a process work pool.
"""
