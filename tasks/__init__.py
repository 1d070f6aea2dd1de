"""Prefect tasks, one per step of a trial: sample, train, evaluate, update the oracle."""

from tasks.trial import TrialTasks, bind_trial_tasks, evaluate_trial

__all__ = ["TrialTasks", "bind_trial_tasks", "evaluate_trial"]
