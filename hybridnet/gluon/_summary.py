"""``Block.summary``: MXNet's table of layers, output shapes and parameter counts."""
from collections import OrderedDict

from ..base import HybridnetValueError
from ..ndarray.ndarray import NDArray

__all__ = ["summary"]


def _shape_str(obj, top=True):
    """MXNet's rendering: ``(2, 3)``; several outputs ``(2, 3), (2, 4)``; nested ``[...]``."""
    if isinstance(obj, NDArray):
        return str(tuple(obj.shape))
    if isinstance(obj, (list, tuple)):
        body = ", ".join(_shape_str(o, False) for o in obj)
        return body if top else f"[{body}]"
    return str(obj)


def summary(block, inputs):
    """Run ``block(*inputs)`` once with hooks on every layer and print the table."""
    from .block import HybridBlock
    from .nn.sequential import HybridSequential, Sequential
    rows = OrderedDict()
    seen = set()
    hooks = []

    def hook(b, _, outputs):
        n = trainable = shared = 0
        for p in b._reg_params.values():
            size = p.data().size
            n += size
            trainable += 0 if p.grad_req == "null" else size
            if id(p) in seen:
                shared += size
            else:
                seen.add(id(p))
        rows[f"{type(b).__name__}-{len(rows)}"] = (_shape_str(outputs), n, trainable, shared)

    def register(b):
        if isinstance(b, HybridBlock) and b._active:
            raise HybridnetValueError(
                f"summary: {type(b).__name__} is hybridized; call summary() before "
                "hybridize(), or hybridize(active=False) first")
        if not isinstance(b, (Sequential, HybridSequential)):
            hooks.append(b.register_forward_hook(hook))

    if not inputs:
        raise HybridnetValueError("summary(*inputs): pass at least one input batch, e.g. "
                                  "net.summary(nd.ones((1, 784)))")
    try:
        block.apply(register)
        rows["Input"] = (_shape_str(inputs), 0, 0, 0)
        block(*inputs)
    finally:
        for h in hooks:
            h.detach()
    fmt = "{:>20}  {:>42} {:>15}"
    print("-" * 80)
    print(fmt.format("Layer (type)", "Output Shape", "Param #"))
    print("=" * 80)
    total = trainable = shared = 0
    for name, (shape, n, t, s) in rows.items():
        print(fmt.format(name, shape, n))
        total, trainable, shared = total + n, trainable + t, shared + s
    print("=" * 80)
    print("Parameters in forward computation graph, duplicate included")
    print(f"   Total params: {total}")
    print(f"   Trainable params: {trainable}")
    print(f"   Non-trainable params: {total - trainable}")
    print(f"Shared params in forward computation graph: {shared}")
    print(f"Unique parameters in model: {total - shared}")
    print("-" * 80)
