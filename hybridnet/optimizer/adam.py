"""Adam-family optimizers: Adam, AdamW, Adamax, Nadam, LAMB.

Each keeps ``(mean, var)`` (Adamax: ``(m, u)``) as its state. Bias corrections
that depend only on the step count ``t`` are folded into the per-step scalars
returned by ``hyper()``, so the rules stay elementwise.
"""
from ..ndarray.creation import zeros
from .base import (Optimizer, bias_correction, clip, l2norm, maximum, register, scale, sqrt,
                   _is_num)


def _two_zeros(weight):
    return (zeros(weight.shape, weight.context, dtype=weight.dtype),
            zeros(weight.shape, weight.context, dtype=weight.dtype))


def _moments(g, mean, var, beta1, beta2):
    return mean * beta1 + g * (1 - beta1), var * beta2 + (g * g) * (1 - beta2)


class _AdamBase(Optimizer):
    _OPTIONS = ("beta1", "beta2", "epsilon", "lazy_update")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def create_state(self, index, weight):
        return _two_zeros(weight)

    def hyper(self, index):
        hp = super().hyper(index)
        hp.update(beta1=float(self.beta1), beta2=float(self.beta2), epsilon=float(self.epsilon))
        return hp


@register
class Adam(_AdamBase):
    """Adam (Kingma & Ba), MXNet 1.x ``adam_update``; at step t::

        g      = clip(rescale_grad * grad + wd * weight, clip_gradient)
        mean   = beta1 * mean + (1 - beta1) * g
        var    = beta2 * var + (1 - beta2) * g^2
        lr_t   = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        weight = weight - lr_t * mean / (sqrt(var) + epsilon)

    Note that wd is added before clipping (as in MXNet).
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super().__init__(learning_rate, beta1, beta2, epsilon, **kwargs)
        self.lazy_update = lazy_update

    def hyper(self, index):
        hp = super().hyper(index)
        hp["lr"] *= bias_correction(self.beta1, self.beta2, self._index_update_count[index])
        return hp

    @staticmethod
    def rule(weight, grad, mean, var, *, lr, wd, rescale_grad, clip_gradient, beta1, beta2,
             epsilon):
        g = scale(grad, rescale_grad)
        if not _is_num(wd, 0):
            g = g + weight * wd
        g = clip(g, clip_gradient)
        mean, var = _moments(g, mean, var, beta1, beta2)
        return weight - mean * lr / (sqrt(var) + epsilon), mean, var


@register
class AdamW(_AdamBase):
    """Adam with decoupled weight decay (Loshchilov & Hutter), the formula of MXNet's
    ``contrib.adamw_update`` as driven by its ``AdamW`` optimizer::

        g      = clip(rescale_grad * grad, clip_gradient)
        mean   = beta1 * mean + (1 - beta1) * g
        var    = beta2 * var + (1 - beta2) * g^2
        lr_t   = lr * sqrt(1 - beta2^t) / (1 - beta1^t)   (lr_t = lr if not correct_bias)
        weight = weight - lr_t * (mean / (sqrt(var) + epsilon) + wd * weight)

    Parameters
    ----------
    learning_rate : float, default 0.001
    epsilon : float, default 1e-6
    correct_bias : bool, default True
    """
    _OPTIONS = ("beta1", "beta2", "epsilon", "correct_bias")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 correct_bias=True, **kwargs):
        super().__init__(learning_rate, beta1, beta2, epsilon, **kwargs)
        self.correct_bias = correct_bias

    def hyper(self, index):
        hp = super().hyper(index)
        if self.correct_bias:
            hp["lr"] *= bias_correction(self.beta1, self.beta2, self._index_update_count[index])
        return hp

    @staticmethod
    def rule(weight, grad, mean, var, *, lr, wd, rescale_grad, clip_gradient, beta1, beta2,
             epsilon):
        g = clip(scale(grad, rescale_grad), clip_gradient)
        mean, var = _moments(g, mean, var, beta1, beta2)
        d = mean / (sqrt(var) + epsilon)
        if not _is_num(wd, 0):
            d = d + weight * wd
        return weight - d * lr, mean, var


@register
class Adamax(_AdamBase):
    """AdaMax, the infinity-norm variant of Adam (MXNet 1.x)::

        g      = clip(rescale_grad * grad + wd * weight, clip_gradient)
        m      = beta1 * m + (1 - beta1) * g
        u      = maximum(beta2 * u, |g|)
        weight = weight - lr / (1 - beta1^t) * m / u
    """
    _OPTIONS = ("beta1", "beta2")

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate, beta1, beta2, 0.0, **kwargs)

    def hyper(self, index):
        hp = super().hyper(index)
        del hp["epsilon"]
        hp["lr"] /= 1.0 - self.beta1 ** self._index_update_count[index]
        return hp

    @staticmethod
    def rule(weight, grad, m, u, *, lr, wd, rescale_grad, clip_gradient, beta1, beta2):
        g = scale(grad, rescale_grad)
        if not _is_num(wd, 0):
            g = g + weight * wd
        g = clip(g, clip_gradient)
        m = m * beta1 + g * (1 - beta1)
        u = maximum(u * beta2, abs(g))
        return weight - m * lr / u, m, u


@register
class Nadam(_AdamBase):
    """Adam with Nesterov momentum (Dozat, 2016), MXNet 1.x formula::

        g        = clip(rescale_grad * grad + wd * weight, clip_gradient)
        mu_t     = beta1 * (1 - 0.5 * 0.96^(t * schedule_decay))
        m_sched  = prod_{s<=t} mu_s          (and m_next = m_sched * mu_{t+1})
        mean     = beta1 * mean + (1 - beta1) * g
        var      = beta2 * var + (1 - beta2) * g^2
        m_bar    = (1 - mu_t) * g / (1 - m_sched) + mu_{t+1} * mean / (1 - m_next)
        weight   = weight - lr * m_bar / (sqrt(var / (1 - beta2^t)) + epsilon)

    Unlike MXNet, whose single ``m_schedule`` is shared by all parameters (so it
    depends on how many there are), the schedule here is kept per parameter.
    """
    _OPTIONS = ("beta1", "beta2", "epsilon", "schedule_decay")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate, beta1, beta2, epsilon, **kwargs)
        self.schedule_decay = schedule_decay
        self._m_schedule = {}  # index -> (t, prod of mu_s for s <= t)

    def _mu(self, t):
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.schedule_decay))

    def hyper(self, index):
        hp = super().hyper(index)
        t = self._index_update_count[index]
        last_t, sched = self._m_schedule.get(index, (0, 1.0))
        if last_t + 1 != t:  # not the next step (e.g. begin_num_update): recompute
            last_t, sched = 0, 1.0
            for s in range(1, t):
                sched *= self._mu(s)
            last_t = t - 1
        sched *= self._mu(t)
        self._m_schedule[index] = (t, sched)
        mu_t, mu_next = self._mu(t), self._mu(t + 1)
        hp.update(g_coef=(1.0 - mu_t) / (1.0 - sched),
                  m_coef=mu_next / (1.0 - sched * mu_next),
                  v_coef=1.0 / (1.0 - self.beta2 ** t))
        return hp

    @staticmethod
    def rule(weight, grad, mean, var, *, lr, wd, rescale_grad, clip_gradient, beta1, beta2,
             epsilon, g_coef, m_coef, v_coef):
        g = scale(grad, rescale_grad)
        if not _is_num(wd, 0):
            g = g + weight * wd
        g = clip(g, clip_gradient)
        mean, var = _moments(g, mean, var, beta1, beta2)
        m_bar = g * g_coef + mean * m_coef
        return weight - m_bar * lr / (sqrt(var * v_coef) + epsilon), mean, var


@register
class LAMB(_AdamBase):
    """LAMB (You et al., 2019), MXNet ``lamb_update_phase1/2``::

        g      = clip(rescale_grad * grad, clip_gradient)
        mean   = beta1 * mean + (1 - beta1) * g;  var = beta2 * var + (1 - beta2) * g^2
        m, v   = mean / (1 - beta1^t), var / (1 - beta2^t)   (if bias_correction)
        upd    = m / (sqrt(v) + epsilon) + wd * weight
        r1     = ||weight|| clipped to [lower_bound, upper_bound];  r2 = ||upd||
        weight = weight - lr * (r1 / r2 if r1 > 0 and r2 > 0 else 1) * upd
    """
    _OPTIONS = ("beta1", "beta2", "epsilon", "lower_bound", "upper_bound", "bias_correction")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super().__init__(learning_rate, beta1, beta2, epsilon, **kwargs)
        self.lower_bound, self.upper_bound = lower_bound, upper_bound
        self.bias_correction = bias_correction

    def hyper(self, index):
        hp = super().hyper(index)
        t = self._index_update_count[index]
        bc = self.bias_correction
        hp.update(m_coef=1.0 / (1.0 - self.beta1 ** t) if bc else 1.0,
                  v_coef=1.0 / (1.0 - self.beta2 ** t) if bc else 1.0,
                  lower_bound=float(self.lower_bound) if self.lower_bound else None,
                  upper_bound=float(self.upper_bound) if self.upper_bound else None)
        return hp

    @staticmethod
    def rule(weight, grad, mean, var, *, lr, wd, rescale_grad, clip_gradient, beta1, beta2,
             epsilon, m_coef, v_coef, lower_bound, upper_bound):
        g = clip(scale(grad, rescale_grad), clip_gradient)
        mean, var = _moments(g, mean, var, beta1, beta2)
        upd = scale(mean, m_coef) / (sqrt(scale(var, v_coef)) + epsilon)
        if not _is_num(wd, 0):
            upd = upd + weight * wd
        r1 = l2norm(weight)
        if lower_bound is not None:
            r1 = maximum(r1, lower_bound)
        if upper_bound is not None:
            r1 = -maximum(-r1, -upper_bound)
        r2 = l2norm(upd)
        ok = (r1 > 0) * (r2 > 0)  # 1 where the trust ratio is defined, else 0 (ratio 1)
        ratio = ok * r1 / (r2 + (1 - ok)) + (1 - ok)
        return weight - upd * (ratio * lr), mean, var

