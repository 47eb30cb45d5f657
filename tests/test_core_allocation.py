"""The load budget of trine.core.allocation: charged allocations and one-sample checks refuse
negative dimensions and sizes beyond the budget, and do nothing without a budget."""
from __future__ import annotations

import pytest

from trine.core import allocation


@pytest.mark.parametrize("check", [allocation.charge, allocation.check_shape])
def test_negative_dimension_is_refused(check):
    with allocation.allocation_budget("test.keras", limit=1 << 20):
        with pytest.raises(allocation.AllocationRefused, match="negative dimension"):
            check((3, -1), "float32", "weight 'kernel'")


def test_charge_accumulates_until_the_budget():
    with allocation.allocation_budget("test.keras", limit=100) as budget:
        allocation.charge((5, 4), "float32", "weight 'a'")
        assert budget.used == 80
        with pytest.raises(allocation.AllocationRefused, match="weight 'b'.*80 already used"):
            allocation.charge((2, 4), "float32", "weight 'b'")


def test_check_shape_refuses_one_sample_beyond_the_budget_without_charging():
    with allocation.allocation_budget("test.keras", limit=100) as budget:
        allocation.check_shape((None, 5), "float32", "input")
        assert budget.used == 0
        with pytest.raises(allocation.AllocationRefused, match="for one sample"):
            allocation.check_shape((None, 30), "float32", "input")


def test_no_budget_no_checks():
    allocation.charge((-1,), "float32", "anything")
    allocation.check_shape((10**12,), "float32", "anything")
