"""The user errors of the core ("Bad input" in issue 2): each is a hybridnet error that is
also the matching built-in, and its message names the op, the shapes/values and the fix."""
import re

import numpy as np
import pytest

from hybridnet import autograd, nd
from hybridnet.base import (AutogradError, DTypeError, HybridnetError, HybridnetIOError,
                            ShapeError)


def _raises(exc, builtin, pattern, fn):
    with pytest.raises(exc, match=pattern) as e:
        fn()
    assert isinstance(e.value, HybridnetError) and isinstance(e.value, builtin)
    # no chained NumPy/struct traceback printed under ours ("During handling of ...")
    assert e.value.__cause__ is None
    assert e.value.__context__ is None or e.value.__suppress_context__
    return str(e.value)


def test_dot_of_mismatched_shapes():
    msg = _raises(ShapeError, ValueError, r"^dot: shapes \(2, 3\) and \(4, 5\)",
                  lambda: nd.dot(nd.ones((2, 3)), nd.ones((4, 5))))
    assert "transpose" in msg and "reshape" in msg          # the fix
    _raises(ShapeError, ValueError, r"dot: shapes \(2, 3\) and \(2, 3\)",
            lambda: nd.ones((2, 3)) @ nd.ones((2, 3)))


@pytest.mark.parametrize("fn", [lambda a, b: a + b, lambda a, b: nd.add(a, b),
                                lambda a, b: nd.broadcast_add(a, b), lambda a, b: a * b,
                                lambda a, b: nd.maximum(a, b), lambda a, b: a < b])
def test_broadcasting_mismatch(fn):
    msg = _raises(ShapeError, ValueError, r"\(2, 3\).*\(4, 5\)",
                  lambda: fn(nd.ones((2, 3)), nd.ones((4, 5))))
    assert msg.split(":")[0] in ("add", "multiply", "maximum", "lesser")
    assert "broadcast" in msg


def test_broadcasting_mismatch_while_recording():
    x = nd.ones((2, 3))
    x.attach_grad()
    with autograd.record():
        _raises(ShapeError, ValueError, r"^add: .*\(2, 3\).*\(4, 5\)",
                lambda: x + nd.ones((4, 5)))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "argmax"])
def test_invalid_axis(name):
    x = nd.ones((2, 3))
    msg = _raises(ShapeError, ValueError, rf"^{name}: .*axis 5.*\(2, 3\)",
                  lambda: getattr(nd, name)(x, axis=5))
    assert "[-2, 2)" in msg                                  # the valid range: the fix
    _raises(ShapeError, ValueError, rf"^{name}: .*axis -3", lambda: getattr(x, name)(axis=-3))


@pytest.mark.parametrize("target", [(4, 2), (4, -1), (0, 0, 5)])
def test_reshape_to_incompatible_size(target):
    _raises(ShapeError, ValueError, r"^reshape: .*\(2, 3\).*" + re.escape(str(target)),
            lambda: nd.ones((2, 3)).reshape(target))
    _raises(ShapeError, ValueError, r"^reshape: .*more than one -1",
            lambda: nd.ones((2, 3)).reshape((-1, -1)))


def test_asscalar_on_non_scalar():
    msg = _raises(ShapeError, ValueError, r"^asscalar: .*shape \(2, 3\)",
                  lambda: nd.ones((2, 3)).asscalar())
    assert "x.sum().asscalar()" in msg


def test_backward_on_array_not_recorded():
    msg = _raises(AutogradError, RuntimeError, r"^backward: .*not computed under "
                  r"autograd\.record\(\)", lambda: nd.ones((2, 3)).backward())
    assert "attach_grad()" in msg


@pytest.mark.parametrize("dtype", ["float128", "complex64", "strng", object])
def test_unknown_dtype(dtype):
    msg = _raises(DTypeError, TypeError, "unknown dtype",
                  lambda: nd.zeros((2,), dtype=dtype))
    for valid in ("float32", "float64", "int32", "uint8"):
        assert valid in msg


def test_load_missing_file(tmp_path):
    path = tmp_path / "missing.params"
    msg = _raises(HybridnetIOError, OSError, r"^nd\.load: no such file", lambda: nd.load(path))
    assert str(path) in msg


def test_load_corrupt_file(tmp_path):
    path = tmp_path / "net.params"
    nd.save(path, {"w": nd.ones((3, 3))})
    path.write_bytes(path.read_bytes()[:-5])
    msg = _raises(HybridnetIOError, OSError, r"^nd\.load: .*net\.params.* not a valid",
                  lambda: nd.load(path))
    assert "truncated or corrupt" in msg and "save it again" in msg
    path.write_bytes(np.ones(10, np.float32).tobytes())
    _raises(HybridnetIOError, OSError, "bad magic", lambda: nd.load(path))
    nd.save(path, {"w": nd.ones((3, 3))})
    path.write_bytes(path.read_bytes().replace(b"float32", b"floatXX"))
    _raises(HybridnetIOError, OSError, "unknown dtype b.floatXX.", lambda: nd.load(path))


def test_missing_mxnet_module_names_itself():
    import hybridnet as mx
    with pytest.raises(AttributeError, match="symbolic API .* not implemented yet"):
        mx.sym.Variable("x")
