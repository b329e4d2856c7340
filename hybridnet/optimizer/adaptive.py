"""Per-coordinate adaptive optimizers: RMSProp, AdaGrad, AdaDelta, Ftrl (MXNet 1.x formulas)."""
from ..ndarray.creation import zeros
from .base import Optimizer, clip, register, scale, sign, sqrt, _is_num


def _zeros(weight, n):
    return tuple(zeros(weight.shape, weight.context, dtype=weight.dtype) for _ in range(n))


@register
class RMSProp(Optimizer):
    """RMSProp, MXNet ``rmsprop_update`` / ``rmspropalex_update``.

    ``g = clip(rescale_grad * grad + wd * weight, clip_gradient)``; then, if not centered
    (Tieleman & Hinton; state ``(n,)``)::

        n      = (1 - gamma1) * g^2 + gamma1 * n
        weight = weight - lr * g / sqrt(n + epsilon)

    and if ``centered`` (Graves 2013; state ``(n, gm, delta)``)::

        n      = (1 - gamma1) * g^2 + gamma1 * n
        gm     = (1 - gamma1) * g + gamma1 * gm
        delta  = gamma2 * delta - lr * g / sqrt(n - gm^2 + epsilon)
        weight = weight + delta

    Finally the weight is clipped to [-clip_weights, clip_weights] when given.
    """
    _OPTIONS = ("gamma1", "gamma2", "epsilon", "centered", "clip_weights")

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1, self.gamma2, self.epsilon = gamma1, gamma2, epsilon
        self.centered, self.clip_weights = centered, clip_weights

    def create_state(self, index, weight):
        return _zeros(weight, 3 if self.centered else 1)

    def hyper(self, index):
        hp = super().hyper(index)
        hp.update(gamma1=float(self.gamma1), gamma2=float(self.gamma2),
                  epsilon=float(self.epsilon),
                  clip_weights=float(self.clip_weights) if self.clip_weights else None)
        return hp

    @staticmethod
    def rule(weight, grad, n, *centered, lr, wd, rescale_grad, clip_gradient, gamma1, gamma2,
             epsilon, clip_weights):
        g = scale(grad, rescale_grad)
        if not _is_num(wd, 0):
            g = g + weight * wd
        g = clip(g, clip_gradient)
        n = (g * g) * (1 - gamma1) + n * gamma1
        if not centered:
            return clip(weight - g * lr / sqrt(n + epsilon), clip_weights), n
        gm, delta = centered
        gm = g * (1 - gamma1) + gm * gamma1
        delta = delta * gamma2 - g * lr / sqrt(n - gm * gm + epsilon)
        return clip(weight + delta, clip_weights), n, gm, delta


@register
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al., 2011), MXNet 1.x::

        g       = clip(rescale_grad * grad, clip_gradient)
        history = history + g^2
        weight  = weight - lr * (g / sqrt(history + eps) + wd * weight)
    """
    _OPTIONS = ("eps",)

    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return _zeros(weight, 1)[0]

    def hyper(self, index):
        hp = super().hyper(index)
        hp["eps"] = float(self.float_stable_eps)
        return hp

    @staticmethod
    def rule(weight, grad, history, *, lr, wd, rescale_grad, clip_gradient, eps):
        g = clip(scale(grad, rescale_grad), clip_gradient)
        history = history + g * g
        d = g / sqrt(history + eps)
        if not _is_num(wd, 0):
            d = d + weight * wd
        return weight - d * lr, history


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler, 2012), MXNet 1.x; it has no learning rate::

        g         = clip(rescale_grad * grad, clip_gradient)
        acc_g     = rho * acc_g + (1 - rho) * g^2
        delta     = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2
        weight    = weight - (delta + wd * weight)
    """
    _OPTIONS = ("rho", "epsilon")

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho, self.epsilon = rho, epsilon

    def create_state(self, index, weight):
        return _zeros(weight, 2)

    def hyper(self, index):
        hp = super().hyper(index)
        hp.update(rho=float(self.rho), epsilon=float(self.epsilon))
        return hp

    @staticmethod
    def rule(weight, grad, acc_g, acc_delta, *, lr, wd, rescale_grad, clip_gradient, rho,
             epsilon):
        g = clip(scale(grad, rescale_grad), clip_gradient)
        acc_g = acc_g * rho + (g * g) * (1 - rho)
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g
        acc_delta = acc_delta * rho + (delta * delta) * (1 - rho)
        if not _is_num(wd, 0):
            delta = delta + weight * wd
        return weight - delta, acc_g, acc_delta


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013), MXNet ``ftrl_update``; state ``(z, n)``::

        g      = clip(rescale_grad * grad, clip_gradient)
        z      = z + g - (sqrt(n + g^2) - sqrt(n)) * weight / lr
        n      = n + g^2
        weight = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)
    """
    _OPTIONS = ("lamda1", "beta")

    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.lamda1, self.beta = lamda1, beta

    def create_state(self, index, weight):
        return _zeros(weight, 2)

    def hyper(self, index):
        hp = super().hyper(index)
        hp.update(lamda1=float(self.lamda1), beta=float(self.beta))
        return hp

    @staticmethod
    def rule(weight, grad, z, n, *, lr, wd, rescale_grad, clip_gradient, lamda1, beta):
        g = clip(scale(grad, rescale_grad), clip_gradient)
        g2 = g * g
        z = z + g - (sqrt(n + g2) - sqrt(n)) * weight / lr
        n = n + g2
        w = (sign(z) * lamda1 - z) / ((sqrt(n) + beta) / lr + wd) * (abs(z) > lamda1)
        return w, z, n
