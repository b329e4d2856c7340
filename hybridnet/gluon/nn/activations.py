"""Activation layers: Activation, LeakyReLU, PReLU, ELU, SELU, GELU, Swish."""
from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ...ndarray.ndarray import NDArray, invoke
from ...ops.registry import OPS
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["Activation", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "Swish"]

# act_type values accepted by nd.Activation (MXNet 1.x).
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softrelu", "softsign")


def check_activation(name, owner):
    """Raise a clear error for an unknown activation name (at construction, not first call)."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise HybridnetValueError(
            f"{owner}: unknown activation {name!r}; valid names are {', '.join(ACTIVATIONS)} "
            "(use nn.LeakyReLU/PReLU/ELU/SELU/GELU/Swish layers for the others)")
    return name


class Activation(HybridBlock):
    """Applies ``relu``, ``sigmoid``, ``tanh``, ``softrelu`` or ``softsign`` elementwise.

    Parameters
    ----------
    activation : str
        Name of the activation (MXNet's ``act_type``).

    Example
    -------
    >>> act = nn.Activation('relu')
    >>> act(nd.array([-1., 2.]))   # [0., 2.]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._act_type = check_activation(activation, "Activation")

    def forward(self, x):
        if isinstance(x, NDArray):      # nd.Activation's checks hold: skip the frontend
            return invoke(OPS[self._act_type], (x,))
        return nd.Activation(x, act_type=self._act_type)

    def __repr__(self):
        return f"Activation({self._act_type})"


class LeakyReLU(HybridBlock):
    """Leaky ReLU: ``x`` for ``x >= 0``, ``alpha * x`` otherwise.

    Parameters
    ----------
    alpha : float
        Slope for negative inputs (>= 0).
    """

    def __init__(self, alpha, **kwargs):
        if alpha < 0:
            raise HybridnetValueError(f"LeakyReLU: the slope alpha must be >= 0, got {alpha}")
        super().__init__(**kwargs)
        self._alpha = alpha

    def forward(self, x):
        return nd.LeakyReLU(x, act_type="leaky", slope=self._alpha)

    def __repr__(self):
        return f"LeakyReLU({self._alpha})"


class PReLU(HybridBlock):
    """Parametric leaky ReLU with a learned slope ``alpha`` (one per channel, axis 1).

    Parameters
    ----------
    alpha_initializer : Initializer, default Constant(0.25)
    in_channels : int, default 1
        Number of slopes; 1 shares one slope over all channels.
    """

    def __init__(self, alpha_initializer=None, in_channels=1, **kwargs):
        super().__init__(**kwargs)
        if alpha_initializer is None:
            from ...initializer import Constant
            alpha_initializer = Constant(0.25)
        self.alpha = Parameter("alpha", shape=(in_channels,), init=alpha_initializer)

    def forward(self, x):
        alpha = self.alpha.data()
        if alpha.shape[0] != 1 and (x.ndim < 2 or x.shape[1] != alpha.shape[0]):
            raise ShapeError(
                f"{self!r}: input of shape {tuple(x.shape)} has "
                f"{x.shape[1] if x.ndim > 1 else 'no'} channels on axis 1 but the layer has "
                f"{alpha.shape[0]} slopes; create it with in_channels="
                f"{x.shape[1] if x.ndim > 1 else 1} (or 1 to share one slope)")
        return nd.LeakyReLU(x, alpha, act_type="prelu")

    def __repr__(self):
        return f"PReLU(in_channels={self.alpha.shape[0]})"


class ELU(HybridBlock):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self._alpha = alpha

    def forward(self, x):
        return nd.LeakyReLU(x, act_type="elu", slope=self._alpha)

    def __repr__(self):
        return f"ELU(alpha={self._alpha})"


class SELU(HybridBlock):
    """Scaled exponential linear unit (Klambauer et al., 2017)."""

    def forward(self, x):
        return nd.LeakyReLU(x, act_type="selu")

    def __repr__(self):
        return "SELU()"


class GELU(HybridBlock):
    """Gaussian error linear unit ``x * Phi(x)`` (exact, erf-based, as MXNet)."""

    def forward(self, x):
        return nd.LeakyReLU(x, act_type="gelu")

    def __repr__(self):
        return "GELU()"


class Swish(HybridBlock):
    """Swish: ``x * sigmoid(beta * x)``."""

    def __init__(self, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self._beta = beta

    def forward(self, x):
        return x * nd.sigmoid(x * self._beta)

    def __repr__(self):
        return f"Swish(beta={self._beta})"
