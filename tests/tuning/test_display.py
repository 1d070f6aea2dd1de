"""Tests for ``tuning.display``: the console output of a search."""

from __future__ import annotations

import datetime

import pytest

from tuning.display import Display


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (0, "00h 00m 00s"),
        (3725.2, "01h 02m 05s"),
        (59.5, "00h 01m 00s"),
        (datetime.timedelta(hours=23, minutes=59, seconds=59), "23h 59m 59s"),
        (datetime.timedelta(days=7), "7d 00h 00m 00s"),
        (datetime.timedelta(days=12, hours=3, minutes=4, seconds=5), "12d 03h 04m 05s"),
    ],
)
def test_durations_print_as_in_keras_tuner_with_days_only_when_there_are_some(duration, text):
    assert Display.format_duration(duration) == text
    assert Display("val_loss", verbose=0).format_duration(duration) == text
