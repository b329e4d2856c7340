"""Learning-rate schedulers against hand-computed MXNet 1.x formulas."""
import math

import pytest

import hybridnet as mx
from hybridnet.base import HybridnetValueError
from hybridnet.lr_scheduler import (CosineScheduler, FactorScheduler, LRScheduler,
                                    MultiFactorScheduler, PolyScheduler)


def test_factor_scheduler_steps_and_floor():
    s = FactorScheduler(step=3, factor=0.5, base_lr=1.0)
    # lr is halved when num_update passes 3, 6, 9: updates 1-3 -> 1, 4-6 -> 0.5 ...
    assert [s(n) for n in range(1, 11)] == [1, 1, 1, .5, .5, .5, .25, .25, .25, .125]
    s = FactorScheduler(step=1, factor=0.1, stop_factor_lr=1e-3, base_lr=1.0)
    assert s(10) == 1e-3 and s(11) == 1e-3      # clamped at stop_factor_lr


def test_factor_scheduler_is_stateful_and_jumps():
    s = FactorScheduler(step=2, factor=0.5, base_lr=0.8)
    assert s(7) == pytest.approx(0.1)             # jumps three reductions at once
    assert s.count == 6
    assert s(1) == pytest.approx(0.1)             # never raised again (MXNet semantics)


def test_multifactor_scheduler():
    s = MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0)
    got = [s(n) for n in range(0, 8)]
    assert got == pytest.approx([1, 1, 1, .1, .1, .1, .01, .01])
    assert s.cur_step_ind == 2 and s.count == 5


def test_poly_scheduler():
    s = PolyScheduler(max_update=10, base_lr=1.0, pwr=2, final_lr=0.1)
    for n in (0, 3, 10):
        assert s(n) == pytest.approx(0.1 + 0.9 * (1 - n / 10) ** 2)
    assert s(15) == pytest.approx(0.1)            # stays at the last value


def test_cosine_scheduler_with_warmup():
    s = CosineScheduler(max_update=10, base_lr=1.0, final_lr=0.0, warmup_steps=2,
                        warmup_begin_lr=0.1)
    assert s(0) == pytest.approx(0.1) and s(1) == pytest.approx(0.55)   # linear warmup
    assert s(2) == pytest.approx(1.0)
    assert s(6) == pytest.approx((1 + math.cos(math.pi * 4 / 8)) / 2)
    assert s(10) == pytest.approx(0.0) and s(12) == pytest.approx(0.0)


def test_constant_warmup_and_factor():
    s = FactorScheduler(step=5, factor=0.5, base_lr=0.2, warmup_steps=3, warmup_begin_lr=0.05,
                        warmup_mode="constant")
    assert [s(n) for n in (0, 1, 2)] == [0.05, 0.05, 0.05]
    assert s(3) == 0.2 and s(6) == 0.1


def test_scheduler_drives_optimizer_learning_rate():
    s = MultiFactorScheduler(step=[1, 2], factor=0.5, base_lr=0.4)
    opt = mx.optimizer.SGD(lr_scheduler=s)
    w = mx.nd.ones((1,))
    seen = []
    for _ in range(4):
        opt.update(0, w, mx.nd.ones((1,)), None)
        seen.append(opt.learning_rate)
    assert seen == [0.4, 0.2, 0.1, 0.1]
    assert w.asscalar() == pytest.approx(1 - 0.4 - 0.2 - 0.1 - 0.1)


def test_errors():
    with pytest.raises(HybridnetValueError, match="step must be >= 1"):
        FactorScheduler(step=0)
    with pytest.raises(HybridnetValueError, match="factor must be <= 1"):
        FactorScheduler(step=2, factor=2)
    with pytest.raises(HybridnetValueError, match="strictly increasing"):
        MultiFactorScheduler(step=[3, 3])
    with pytest.raises(HybridnetValueError, match="every step must be >= 1"):
        MultiFactorScheduler(step=[0, 3])
    with pytest.raises(HybridnetValueError, match="non-empty list"):
        MultiFactorScheduler(step=5)
    with pytest.raises(HybridnetValueError, match="MultiFactorScheduler: factor must be <= 1"):
        MultiFactorScheduler(step=[1], factor=1.5)
    with pytest.raises(HybridnetValueError, match="max_update must be an int"):
        PolyScheduler(max_update=10.0)
    with pytest.raises(HybridnetValueError, match="max_update must be >= 1"):
        CosineScheduler(max_update=0)
    with pytest.raises(HybridnetValueError, match=r"max_update \(5\) must be larger than "
                                                  r"warmup_steps \(5\)"):
        CosineScheduler(max_update=5, warmup_steps=5)
    with pytest.raises(HybridnetValueError, match="warmup_begin_lr .* must not exceed base_lr"):
        LRScheduler(base_lr=0.1, warmup_begin_lr=0.5)
    with pytest.raises(HybridnetValueError, match="warmup_steps must be >= 0"):
        LRScheduler(warmup_steps=-1)
    with pytest.raises(HybridnetValueError, match="warmup_mode must be 'linear' or 'constant'"):
        LRScheduler(warmup_mode="cosine")
    with pytest.raises(HybridnetValueError, match="past the 2 warmup steps"):
        LRScheduler(warmup_steps=2).get_warmup_lr(2)
    with pytest.raises(NotImplementedError, match="must override"):
        LRScheduler()(1)
