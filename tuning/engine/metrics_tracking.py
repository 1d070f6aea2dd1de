"""``keras_tuner.engine.metrics_tracking``."""

from tuning.metrics_tracking import (
    MetricHistory,
    MetricObservation,
    MetricsTracker,
    infer_metric_direction,
)

__all__ = ["MetricHistory", "MetricObservation", "MetricsTracker", "infer_metric_direction"]
