import math

import pytest

from screener.clinical import FUNCTIONS
from screener.clinical.labs import times_upper_limit


def test_times_upper_limit_is_value_over_uln() -> None:
    assert times_upper_limit(100, 40) == pytest.approx(2.5)
    assert times_upper_limit(80, 40) == pytest.approx(2.0)


def test_times_upper_limit_is_registered() -> None:
    assert FUNCTIONS["times_upper_limit"].fn is times_upper_limit


@pytest.mark.parametrize("limit", [0, -1, math.nan])
def test_times_upper_limit_rejects_impossible_limits(limit: float) -> None:
    with pytest.raises(ValueError):
        times_upper_limit(50, limit)


def test_times_upper_limit_rejects_negative_value() -> None:
    with pytest.raises(ValueError):
        times_upper_limit(-1, 40)
