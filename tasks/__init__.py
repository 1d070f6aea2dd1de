"""Prefect tasks, one per step of a trial: sample, train, evaluate, update the oracle."""

from tasks.trial import evaluate_trial, sample_trial, train_trial, update_oracle

__all__ = ["evaluate_trial", "sample_trial", "train_trial", "update_oracle"]
