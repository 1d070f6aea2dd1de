"""``keras_tuner.engine.tuner_utils``."""

from tuning.results import convert_to_metrics_dict, get_best_step, validate_trial_results

__all__ = ["convert_to_metrics_dict", "get_best_step", "validate_trial_results"]
