from __future__ import annotations

import pytest
import torch

from deepfit.config import ScheduleConfig
from deepfit.training.registry import SCHEDULES
from deepfit.training.schedules import Schedule, lr_factor


def factors(name: str, steps: int = 100, per_epoch: int = 10, **options) -> list[float]:
    config = ScheduleConfig(name=name, **options)
    return [lr_factor(s, steps, per_epoch, config) for s in range(steps)]


def test_step_and_exponential() -> None:
    step = factors("step", step_size=3, gamma=0.5)
    assert step[29] == 1.0 and step[30] == 0.5 and step[60] == 0.25
    assert factors("exponential", gamma=0.9)[20] == pytest.approx(0.81)


def test_warmup_rises_linearly_then_schedule() -> None:
    f = factors("cosine", warmup_epochs=2)
    assert f[0] < f[10] < f[19] < 1.0
    assert f[20] == pytest.approx(1.0) and f[-1] < 0.01


def test_onecycle_peaks_at_30_percent() -> None:
    f = factors("onecycle")
    assert f.index(max(f)) == 30 and f[0] == pytest.approx(1 / 25) and f[-1] < 0.01


def test_plateau_reduces_after_patience() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    schedule = Schedule(optimizer, ScheduleConfig(name="plateau", patience=1, factor=0.5), 1.0, 100, 10)
    for loss in [1.0, 0.9, 0.95, 0.95, 0.95]:
        schedule.epoch_end(loss)
    assert schedule.lr == pytest.approx(0.5)
    state = schedule.state_dict()
    other = Schedule(torch.optim.SGD([param], lr=1.0), ScheduleConfig(name="plateau"), 1.0, 100, 10)
    other.load_state_dict(state)
    assert other.lr == pytest.approx(0.5)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_is_a_factor_in_0_1_after_a_warmup_from_0(name: str) -> None:
    f = factors(name, warmup_epochs=1)
    assert f[:10] == pytest.approx([(s + 1) / 11 for s in range(10)])  # the warm-up is the same for every schedule
    assert all(0 < x <= 1 for x in f)
