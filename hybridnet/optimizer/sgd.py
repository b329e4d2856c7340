"""SGD-family optimizers: SGD (with momentum), NAG (Nesterov), Signum / signSGD.

Formulas are those of MXNet 1.x's fused kernels (sgd_update, sgd_mom_update,
nag_mom_update, signsgd_update, signum_update); ``g`` below is
``clip(rescale_grad * grad, clip_gradient)``.
"""
import numpy as np

from ..ndarray.creation import zeros
from .base import Optimizer, clip, register, scale, sign, _is_num


def _g(grad, rescale_grad, clip_gradient):
    return clip(scale(grad, rescale_grad), clip_gradient)


def _g_np(grad, rescale_grad, clip_gradient, lr=1.0):
    """NumPy ``clip(rescale_grad * grad, clip_gradient) * lr`` as a new array."""
    if clip_gradient is None:
        return grad * (rescale_grad * lr)
    g = grad * rescale_grad
    np.minimum(g, clip_gradient, out=g)
    np.maximum(g, -clip_gradient, out=g)
    if lr != 1.0:
        g *= lr
    return g


def _decay(weight, lr, wd):
    """``lr * wd * weight``, or None when wd is the Python number 0."""
    return None if _is_num(wd, 0) else weight * (lr * wd)


class _Momentum(Optimizer):
    """SGD and NAG: one momentum buffer (none when ``momentum`` is 0)."""

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def hyper(self, index):
        hp = super().hyper(index)
        hp["momentum"] = float(self.momentum)
        return hp


@register
class SGD(_Momentum):
    """Stochastic gradient descent with optional momentum and weight decay.

    Without momentum::

        weight = weight - lr * (g + wd * weight)

    With momentum (state ``mom``)::

        mom    = momentum * mom - lr * wd * weight - lr * g
        weight = weight + mom

    Parameters
    ----------
    momentum : float, default 0
    lazy_update : bool, default True
        Accepted for MXNet compatibility (hybridnet has no sparse gradients).
    """
    _OPTIONS = ("momentum", "lazy_update")

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update

    @staticmethod
    def rule(weight, grad, *mom, lr, wd, rescale_grad, clip_gradient, momentum):
        g = _g(grad, rescale_grad, clip_gradient)
        dec = _decay(weight, lr, wd)
        if not mom:
            step = g * lr
            return (weight - (step if dec is None else step + dec),)
        m = mom[0] * momentum - g * lr
        if dec is not None:
            m = m - dec
        return weight + m, m

    @staticmethod
    def rule_inplace(weight, grad, *mom, lr, wd, rescale_grad, clip_gradient, momentum):
        step = _g_np(grad, rescale_grad, clip_gradient, lr)       # lr * g
        if wd != 0:
            step += weight * (lr * wd)
        if not mom:
            weight -= step
            return
        m = mom[0]
        m *= momentum
        m -= step
        weight += m


@register
class NAG(_Momentum):
    """Nesterov accelerated gradient, MXNet 1.x ``nag_mom_update`` (state ``mom``)::

        d      = g + wd * weight
        mom    = momentum * mom - lr * d
        weight = weight + momentum * mom - lr * d

    With a constant lr this is MXNet's documented ``state = momentum * state + grad +
    wd * weight; weight -= lr * (grad + wd * weight + momentum * state)`` with the state
    scaled by -lr. (MXNet 1.9's fused kernel, run in place, reads the already-updated
    weight for the wd term of ``mom``; hybridnet uses the documented, pre-update weight.)
    Without momentum it is plain SGD.
    """
    _OPTIONS = ("momentum",)

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    @staticmethod
    def rule(weight, grad, *mom, lr, wd, rescale_grad, clip_gradient, momentum):
        if not mom:
            return SGD.rule(weight, grad, lr=lr, wd=wd, rescale_grad=rescale_grad,
                            clip_gradient=clip_gradient, momentum=momentum)
        d = _g(grad, rescale_grad, clip_gradient)
        if not _is_num(wd, 0):
            d = d + weight * wd
        step = d * lr
        m = mom[0] * momentum - step
        return weight + m * momentum - step, m

    @staticmethod
    def rule_inplace(weight, grad, *mom, lr, wd, rescale_grad, clip_gradient, momentum):
        if not mom:
            SGD.rule_inplace(weight, grad, lr=lr, wd=wd, rescale_grad=rescale_grad,
                             clip_gradient=clip_gradient, momentum=momentum)
            return
        d = _g_np(grad, rescale_grad, clip_gradient)
        if wd != 0:
            d += weight * wd
        d *= lr                                                    # step
        m = mom[0]
        m *= momentum
        m -= d
        weight -= d
        d[...] = m
        d *= momentum
        weight += d


@register
class Signum(Optimizer):
    """signSGD / Signum: steps of size lr along the sign of the gradient or momentum.

    With momentum (MXNet ``signum_update``; the state holds the negated average)::

        mom    = momentum * mom - (1 - momentum) * (wd * weight + g)
        weight = (1 - lr * wd_lh) * weight + lr * sign(mom)

    Without momentum (``signsgd_update``)::

        weight = (1 - lr * wd) * weight - lr * sign(grad)

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float, default 0.9
    wd_lh : float, default 0
        Decoupled weight decay (Loshchilov & Hutter).
    """
    _OPTIONS = ("momentum", "wd_lh")

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def hyper(self, index):
        hp = super().hyper(index)
        hp["momentum"] = float(self.momentum)
        hp["wd_lh"] = float(self.wd_lh)
        return hp

    @staticmethod
    def rule(weight, grad, *mom, lr, wd, rescale_grad, clip_gradient, momentum, wd_lh):
        if not mom:
            # signsgd_update: clipping cannot change a sign, and MXNet ignores rescale too.
            return (scale(weight, 1 - lr * wd) - sign(grad) * lr,)
        g = _g(grad, rescale_grad, clip_gradient)
        if not _is_num(wd, 0):
            g = g + weight * wd
        m = mom[0] * momentum - g * (1 - momentum)
        return scale(weight, 1 - lr * wd_lh) + sign(m) * lr, m
