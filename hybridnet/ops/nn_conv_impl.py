"""NumPy kernels for N-d grouped convolution (im2col + BLAS) and its two adjoints.

Layouts are channels-first: data ``(N, C, *spatial)``, weight ``(F, C/G, *kernel)``.
The three functions are each other's VJPs, which is what makes Convolution,
Deconvolution (= the data-adjoint) and their gradients close under differentiation:

* ``conv(x, w)``                      -> y   (N, F, *out)
* ``conv_bwd_data(y, w, in_size)``    -> x   (N, C, *in)      (adjoint in x)
* ``conv_bwd_weight(y, x, kernel)``   -> w   (F, C/G, *k)     (adjoint in w)

In the two adjoints ``y`` may have fewer window positions per dim than fit in
``x`` (transposed convolution with ``adj``/``target_shape``): only those are used.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..base import ShapeError


def dilated(k, d):
    return tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))


def out_size(in_size, k, stride, dilate, pad):
    """Output spatial size of a convolution/pooling window sweep (floor mode)."""
    return tuple((n + 2 * p - dk) // s + 1
                 for n, dk, s, p in zip(in_size, dilated(k, dilate), stride, pad))


def conv_shapes(op, dshape, wshape, stride, dilate, pad, num_group):
    """Check a convolution's data/weight shapes; return the output shape."""
    if len(dshape) not in (3, 4, 5) or len(wshape) != len(dshape):
        raise ShapeError(f"{op}: expected data (N, C, *spatial) with 1-3 spatial dims and a "
                         f"weight of the same rank, got data {tuple(dshape)} and weight "
                         f"{tuple(wshape)}")
    c, f, g = dshape[1], wshape[0], num_group
    if g < 1 or c % g or f % g:
        raise ShapeError(f"{op}: num_group={g} must divide both the data channels ({c}) and "
                         f"num_filter ({f}); data {tuple(dshape)}, weight {tuple(wshape)}")
    if wshape[1] * g != c:
        raise ShapeError(
            f"{op}: data of shape {tuple(dshape)} has {c} channels but the weight of shape "
            f"{tuple(wshape)} expects {wshape[1]} per group x num_group={g} = {wshape[1] * g}; "
            f"create the layer with in_channels={c} (or in_channels=0 to infer it), or feed "
            f"data with {wshape[1] * g} channels")
    out = out_size(dshape[2:], wshape[2:], stride, dilate, pad)
    if any(o <= 0 for o in out):
        raise ShapeError(
            f"{op}: the kernel {tuple(wshape[2:])} with dilate={tuple(dilate)} does not fit the "
            f"input {tuple(dshape[2:])} padded by {tuple(pad)} (output would be {out}); use a "
            "smaller kernel/dilation, more padding, or a larger input")
    return (dshape[0], f) + out


def im2col(x, k, stride, dilate, pad, g, limit=None):
    """Patches of ``x`` as ``(G, C/G*K, N*P)`` (K kernel taps, P output positions).

    Channel-major columns: building them reads ``x`` along its rows (fast copy), and
    the GEMMs take them as is. ``limit`` keeps only the first ``limit[i]`` window
    positions per spatial dim (a transposed convolution with ``adj``/``target_shape``
    may use fewer windows than fit).
    """
    n, c = x.shape[:2]
    nsp = len(k)
    if any(pad):
        x = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pad))
    win = sliding_window_view(x, dilated(k, dilate), axis=tuple(range(2, 2 + nsp)))
    win = win[(slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)
              + tuple(slice(None, None, d) for d in dilate)]
    if limit is not None:
        win = win[(slice(None),) * 2 + tuple(slice(0, o) for o in limit)]
    out = win.shape[2:2 + nsp]
    win = win.reshape((n, g, c // g) + win.shape[2:])
    # (N, G, Cg, *out, *k) -> (G, Cg, *k, N, *out)
    perm = (1, 2) + tuple(range(3 + nsp, 3 + 2 * nsp)) + (0,) + tuple(range(3, 3 + nsp))
    cols = win.transpose(perm).reshape(g, -1, n * int(np.prod(out)))
    return cols, out


def _grouped_cols(y, g):
    """(N, F, *out) -> (G, F/G, N*P): output-space arrays as GEMM operands."""
    n, f = y.shape[:2]
    p = int(np.prod(y.shape[2:]))
    return y.reshape(n, g, f // g, p).transpose(1, 2, 0, 3).reshape(g, f // g, n * p)


def _gemm(a, b):
    """Batched (over groups) matrix product; plain BLAS dot for one group."""
    if a.shape[0] == 1:
        return np.dot(a[0], b[0])[None]
    return np.matmul(a, b)


def conv(x, w, stride, dilate, pad, g):
    n, f = x.shape[0], w.shape[0]
    cols, out = im2col(x, w.shape[2:], stride, dilate, pad, g)
    y = _gemm(w.reshape(g, f // g, -1), cols)                   # (G, F/G, N*P)
    nsp = len(out)
    y = y.reshape((g, f // g, n) + out).transpose((2, 0, 1) + tuple(range(3, 3 + nsp)))
    return np.ascontiguousarray(y).reshape((n, f) + out)


def conv_bwd_data(y, w, in_size, stride, dilate, pad, g):
    n, f = y.shape[:2]
    out = y.shape[2:]
    nsp = len(out)
    cg, k = w.shape[1], w.shape[2:]
    wm = w.reshape(g, f // g, -1).transpose(0, 2, 1)               # (G, Cg*K, F/G)
    dcols = _gemm(wm, _grouped_cols(y, g)).reshape((g, cg) + tuple(k) + (n,) + tuple(out))
    padded = tuple(s + 2 * p for s, p in zip(in_size, pad))
    dx = np.zeros((g, cg, n) + padded, y.dtype)
    lead = (slice(None),) * 3
    for tap in np.ndindex(*k):
        sl = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                   for t, d, s, o in zip(tap, dilate, stride, out))
        dx[lead + sl] += dcols[(slice(None), slice(None)) + tap]
    if any(pad):
        dx = dx[lead + tuple(slice(p, p + s) for p, s in zip(pad, in_size))]
    dx = dx.transpose((2, 0, 1) + tuple(range(3, 3 + nsp)))       # (N, G, Cg, *in)
    return np.ascontiguousarray(dx).reshape((n, g * cg) + tuple(in_size))


def conv_bwd_weight(y, x, k, stride, dilate, pad, g):
    f = y.shape[1]
    cols, _ = im2col(x, k, stride, dilate, pad, g, limit=y.shape[2:])
    dw = _gemm(_grouped_cols(y, g), cols.transpose(0, 2, 1))      # (G, F/G, Cg*K)
    return dw.reshape((f, x.shape[1] // g) + tuple(k))
