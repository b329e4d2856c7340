"""Basic layers: Dense, Dropout, Embedding, Flatten, Lambda, HybridLambda."""
import difflib
import math

from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ...ndarray.ndarray import NDArray, invoke
from ...ops.registry import OPS
from ..block import Block, HybridBlock
from ..parameter import Parameter
from ._util import feature_mismatch, set_shape
from .activations import Activation, check_activation

__all__ = ["Dense", "Dropout", "Embedding", "Flatten", "Lambda", "HybridLambda"]


_FC = OPS["_fully_connected"]


class Dense(HybridBlock):
    """Fully connected layer: ``activation(dot(x, weight.T) + bias)``.

    Parameters
    ----------
    units : int
        Output size.
    activation : str, optional
        Activation applied to the output (see ``nn.Activation``); None is linear.
    use_bias : bool, default True
    flatten : bool, default True
        True: inputs of shape (N, d1, d2, ...) are flattened to (N, d1*d2*...).
        False: only the last axis is transformed; leading axes are kept.
    dtype : str, default 'float32'
    weight_initializer, bias_initializer : Initializer or str
    in_units : int, default 0
        Input size; 0 infers it from the first input (deferred initialization).

    Shapes: weight (units, in_units), bias (units,). Input (N, in_units) -> (N, units).
    """

    def __init__(self, units, activation=None, use_bias=True, flatten=True, dtype="float32",
                 weight_initializer=None, bias_initializer="zeros", in_units=0, **kwargs):
        super().__init__(**kwargs)
        self._units = int(units)
        self._flatten = flatten
        self.weight = Parameter("weight", shape=(units, in_units), init=weight_initializer,
                                dtype=dtype, allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(units,), init=bias_initializer, dtype=dtype,
                              allow_deferred_init=True) if use_bias else None
        if activation is not None:
            check_activation(activation, "Dense")
        self.act = Activation(activation) if activation is not None else None

    def _in_units(self, x):
        return math.prod(x.shape[1:]) if self._flatten else x.shape[-1]

    def _mismatch(self, x):
        n = self._in_units(x)
        return feature_mismatch(
            self, "flattened feature size" if self._flatten else "last-axis size",
            self.weight.shape[1], n, x.shape,
            f"Create the layer with in_units={n} (or in_units=0 to infer it), or reshape "
            "the input")

    def infer_shape(self, x, *args):
        n = self._in_units(x)
        if self.weight.shape[1] and self.weight.shape[1] != n:
            raise self._mismatch(x)
        set_shape(self, self.weight, (self._units, n), "Pass the right in_units")

    def forward(self, x):
        w = self.weight.data()
        try:
            if type(x) is NDArray:      # nd.FullyConnected's checks hold: skip the frontend
                out = invoke(_FC, (x, w) if self.bias is None else (x, w, self.bias.data()),
                             {"num_hidden": self._units, "flatten": bool(self._flatten)})
            else:
                out = nd.FullyConnected(x, w, self.bias.data() if self.bias is not None
                                        else None, num_hidden=self._units,
                                        no_bias=self.bias is None, flatten=self._flatten)
        except ShapeError:
            if x.ndim >= 1 and self._in_units(x) != w.shape[1]:
                raise self._mismatch(x) from None
            raise
        act = self.act
        if act is not None:
            if type(act) is Activation and type(out) is NDArray and not (
                    act._active or act._forward_hooks or act._forward_pre_hooks):
                out = invoke(OPS[act._act_type], (out,))   # act(out) without the block call
            else:
                out = act(out)
        return out

    def __repr__(self):
        shape = self.weight.shape
        act = repr(self.act) if self.act is not None else "linear"
        return f"Dense({shape[1] if shape[1] else None} -> {shape[0]}, {act})"


class Dropout(HybridBlock):
    """Randomly zeroes elements with probability ``rate`` while training.

    Active only inside ``autograd.record()`` in train mode (``autograd.is_training()``);
    the kept elements are scaled by ``1 / (1 - rate)``. In prediction it is the identity.

    Parameters
    ----------
    rate : float
        Fraction of the input to drop, in [0, 1).
    axes : tuple of int, default ()
        Axes along which the same mask is shared (variational dropout).
    """

    def __init__(self, rate, axes=(), **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise HybridnetValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self._rate = rate
        self._axes = tuple(axes)

    def forward(self, x):
        if self._rate > 0:
            return nd.Dropout(x, p=self._rate, axes=self._axes)
        return x

    def __repr__(self):
        return f"Dropout(p = {self._rate}, axes={self._axes})"


class Embedding(HybridBlock):
    """Maps integer indices to dense vectors: ``weight[x]``.

    Parameters
    ----------
    input_dim : int
        Vocabulary size (indices must be in [0, input_dim)).
    output_dim : int
        Vector size.
    dtype : str, default 'float32'
    weight_initializer : Initializer, optional
    sparse_grad : bool
        Accepted for Gluon compatibility; gradients are dense.

    Input (d0, d1, ...) of indices -> output (d0, d1, ..., output_dim).
    """

    def __init__(self, input_dim, output_dim, dtype="float32", weight_initializer=None,
                 sparse_grad=False, **kwargs):
        super().__init__(**kwargs)
        self._input_dim, self._output_dim = int(input_dim), int(output_dim)
        self._dtype = dtype
        self.weight = Parameter("weight", shape=(input_dim, output_dim), init=weight_initializer,
                                dtype=dtype, allow_deferred_init=True)

    def forward(self, x):
        return nd.Embedding(x, self.weight.data(), input_dim=self._input_dim,
                            output_dim=self._output_dim)

    def __repr__(self):
        return f"Embedding({self._input_dim} -> {self._output_dim}, {self._dtype})"


class Flatten(HybridBlock):
    """Flattens (N, d1, d2, ...) to (N, d1*d2*...)."""

    def forward(self, x):
        return nd.flatten(x)

    def __repr__(self):
        return "Flatten"


def _nd_function(name, owner):
    fn = getattr(nd, name, None) if isinstance(name, str) and not name.startswith("_") else None
    if fn is None or not callable(fn):
        close = difflib.get_close_matches(name, [n for n in dir(nd) if not n.startswith("_")])
        raise HybridnetValueError(
            f"{owner}: hybridnet.nd has no function {name!r}"
            + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
            + " Pass an nd function name (e.g. 'tanh') or a callable")
    return fn


class Lambda(Block):
    """Wraps a function as a Block: ``Lambda('tanh')`` or ``Lambda(lambda x: x * 2)``.

    Parameters
    ----------
    function : str or callable
        The name of an ``nd`` function, or a callable taking the block's inputs.
    """

    def __init__(self, function, prefix=None):
        super().__init__(prefix=prefix)
        if isinstance(function, str):
            self._func_impl = _nd_function(function, "Lambda")
            self._func_name = function
        elif callable(function):
            self._func_impl = function
            self._func_name = getattr(function, "__name__", type(function).__name__)
        else:
            raise HybridnetValueError(f"Lambda: expected an nd function name or a callable, got "
                                      f"{function!r} of type {type(function).__name__}")

    def forward(self, *args):
        return self._func_impl(*args)

    def __repr__(self):
        return f"Lambda({self._func_name})"


class HybridLambda(HybridBlock):
    """Wraps ``function(F, x, *args)`` (``F`` is ``hybridnet.nd``) or an nd function name.

    Example: ``HybridLambda(lambda F, x: F.LeakyReLU(x, slope=0.1))``.
    """

    def __init__(self, function, prefix=None):
        super().__init__(prefix=prefix)
        if isinstance(function, str):
            fn = _nd_function(function, "HybridLambda")
            self._func = lambda F, *args: fn(*args)
            self._func_name = function
        elif callable(function):
            self._func = function
            self._func_name = getattr(function, "__name__", type(function).__name__)
        else:
            raise HybridnetValueError(f"HybridLambda: expected an nd function name or a callable, "
                                      f"got {function!r} of type {type(function).__name__}")

    def forward(self, x, *args):
        return self._func(nd, x, *args)

    def __repr__(self):
        return f"HybridLambda({self._func_name})"
