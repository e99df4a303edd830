"""One duration parser, two grammars: each caller keeps exactly the units it accepts."""

from __future__ import annotations

import pytest

from otel_llm.durations import FILTER_UNITS, SETTING_UNITS, duration_in, parse_duration


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [("5", 5e9), ("500ms", 5e8), (".5s", 5e8), ("2 M", 1.2e11), ("1d", 8.64e13), ("0", 0)],
)
def test_filter_durations_go_from_ms_to_d_and_may_start_at_the_point(
    text: str, nanoseconds: float
) -> None:
    assert duration_in(text, FILTER_UNITS, leading_point=True) == nanoseconds


@pytest.mark.parametrize("text", ["2w", "5 s s", "ms", "", "-1s", "5sec"])
def test_filter_durations_refuse_other_units_and_shapes(text: str) -> None:
    assert duration_in(text, FILTER_UNITS, leading_point=True) is None


def test_setting_durations_go_from_s_to_w_and_need_a_digit_before_the_point() -> None:
    assert duration_in("2w", SETTING_UNITS) == parse_duration("2w") == 1_209_600
    assert duration_in("500ms", SETTING_UNITS) is None
    assert duration_in(".5h", SETTING_UNITS) is None
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(".5h")
