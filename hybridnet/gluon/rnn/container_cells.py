"""Cells built from other cells: stacks, dropout, residual, zoneout and bidirectional."""
from ... import ndarray as nd
from ...base import HybridnetValueError
from ...ndarray.ndarray import NDArray
from ..block import _indent
from .rnn_cell import (HybridRecurrentCell, RecurrentCell, _get_begin_state, format_sequence,
                       mask_and_last)

__all__ = ["SequentialRNNCell", "HybridSequentialRNNCell", "DropoutCell", "ModifierCell",
           "ResidualCell", "ZoneoutCell", "BidirectionalCell"]


class _StackMixin:
    def add(self, cell):
        """Append a cell; its output feeds the next cell."""
        self.register_child(cell)

    def state_info(self, batch_size=0):
        return sum((c.state_info(batch_size) for c in self._children.values()), [])

    def begin_state(self, **kwargs):
        return sum((c.begin_state(**kwargs) for c in self._children.values()), [])

    def __call__(self, inputs, states):
        self._counter += 1
        if isinstance(states, NDArray):
            states = [states]
        next_states, p = [], 0
        for cell in self._children.values():
            if isinstance(cell, BidirectionalCell):
                raise HybridnetValueError(f"{type(self).__name__}: a BidirectionalCell cannot "
                                          "be stepped; use unroll()")
            n = len(cell.state_info())
            inputs, state = cell(inputs, states[p:p + n])
            p += n
            next_states.extend(state)
        return inputs, next_states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        inputs, _, batch_size = format_sequence(length, inputs, layout, None,
                                                type(self).__name__)
        begin_state = _get_begin_state(self, begin_state, inputs, batch_size)
        cells = list(self._children.values())
        p, next_states = 0, []
        for i, cell in enumerate(cells):
            n = len(cell.state_info())
            inputs, states = cell.unroll(length, inputs, begin_state[p:p + n], layout,
                                         merge_outputs if i == len(cells) - 1 else None,
                                         valid_length)
            p += n
            next_states.extend(states)
        return inputs, next_states

    def __getitem__(self, i):
        return self._children[str(i)]

    def __len__(self):
        return len(self._children)

    def __repr__(self):
        body = "\n".join(f"({k}): {_indent(repr(c), 2)}" for k, c in self._children.items())
        return f"{type(self).__name__}(\n{body}\n)"


class SequentialRNNCell(_StackMixin, RecurrentCell):
    """Stacks cells: ``cell.add(rnn.LSTMCell(100)); cell.add(rnn.LSTMCell(100))``."""


class HybridSequentialRNNCell(_StackMixin, HybridRecurrentCell):
    """Stacks hybridizable cells."""


class DropoutCell(HybridRecurrentCell):
    """Applies Dropout(rate, axes) to the input at every step (training only); no state."""

    def __init__(self, rate, axes=(), prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise HybridnetValueError(f"DropoutCell: rate must be a number in [0, 1), got "
                                      f"{rate!r}")
        self._rate, self._axes = rate, tuple(axes)

    def __repr__(self):
        return f"DropoutCell(rate={self._rate}, axes={self._axes})"

    _flat_states = True

    def state_info(self, batch_size=0):
        return []

    def forward(self, inputs, *states):
        self._counter += 1
        if self._rate > 0:
            inputs = nd.Dropout(inputs, p=self._rate, axes=self._axes)
        return (inputs, *states)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        inputs, _, _ = format_sequence(length, inputs, layout, merge_outputs, "DropoutCell")
        if isinstance(inputs, NDArray):
            return self(inputs, list(begin_state or []))
        return super().unroll(length, inputs, begin_state, layout, merge_outputs)


class ModifierCell(HybridRecurrentCell):
    """Base class of cells that wrap one ``base_cell`` (it shares the base's parameters)."""

    def __init__(self, base_cell):
        if base_cell._modified:
            raise HybridnetValueError(f"{type(base_cell).__name__} is already wrapped by a "
                                      "modifier cell; a cell can be modified only once")
        base_cell._modified = True
        super().__init__()
        self.base_cell = base_cell

    def state_info(self, batch_size=0):
        return self.base_cell.state_info(batch_size)

    def begin_state(self, func=nd.zeros, **kwargs):
        self.base_cell._modified = False
        try:
            return self.base_cell.begin_state(func=func, **kwargs)
        finally:
            self.base_cell._modified = True

    def __repr__(self):
        return f"{type(self).__name__}({self.base_cell!r})"


class ResidualCell(ModifierCell):
    """Adds the input to the base cell's output: ``out = cell(x)[0] + x``."""

    _flat_states = True

    def forward(self, inputs, *states):
        self._counter += 1
        output, states = self.base_cell(inputs, list(states))
        return (output + inputs, *states)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs, begin_state, layout,
                                                    merge_outputs, valid_length)
        finally:
            self.base_cell._modified = True
        merge = isinstance(outputs, NDArray)
        inputs, _, _ = format_sequence(length, inputs, layout, merge, "ResidualCell")
        if valid_length is not None:
            steps = inputs if not merge else format_sequence(length, inputs, layout, False,
                                                             "ResidualCell")[0]
            steps, _ = mask_and_last(steps, [[]], valid_length)
            inputs = nd.stack(*steps, axis=layout.find("T")) if merge else steps
        if merge:
            return outputs + inputs, states
        return [o + i for o, i in zip(outputs, inputs)], states


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al., 2016): in training, each output/state element keeps its
    previous value with probability ``zoneout_outputs`` / ``zoneout_states``."""

    def __init__(self, base_cell, zoneout_outputs=0.0, zoneout_states=0.0):
        if isinstance(base_cell, BidirectionalCell):
            raise HybridnetValueError("ZoneoutCell: a BidirectionalCell cannot be stepped; "
                                      "wrap the cells inside it instead")
        super().__init__(base_cell)
        self.zoneout_outputs, self.zoneout_states = zoneout_outputs, zoneout_states
        self._prev_output = None

    def __repr__(self):
        return (f"ZoneoutCell(p_out={self.zoneout_outputs}, p_state={self.zoneout_states}, "
                f"{self.base_cell!r})")

    def reset(self):
        super().reset()
        self._prev_output = None

    def forward(self, inputs, states):
        self._counter += 1
        next_output, next_states = self.base_cell(inputs, states)

        def keep_new(p, like):   # 1 where the new value is kept; all ones outside training
            return nd.Dropout(nd.ones_like(like), p=p) != 0
        prev = self._prev_output if self._prev_output is not None else nd.zeros_like(next_output)
        output = next_output if self.zoneout_outputs == 0 else nd.where(
            keep_new(self.zoneout_outputs, next_output), next_output, prev)
        if self.zoneout_states != 0:
            next_states = [nd.where(keep_new(self.zoneout_states, n), n, o)
                           for n, o in zip(next_states, states)]
        self._prev_output = output
        return output, next_states


class BidirectionalCell(HybridRecurrentCell):
    """Runs ``l_cell`` forward and ``r_cell`` backward in time; outputs are concatenated.

    Only ``unroll`` is supported (a bidirectional cell cannot be stepped).
    """

    def __init__(self, l_cell, r_cell, output_prefix="bi_"):
        super().__init__()
        self.l_cell = l_cell
        self.r_cell = r_cell

    def __call__(self, inputs, states):
        raise HybridnetValueError("BidirectionalCell cannot be stepped; use unroll()")

    def __repr__(self):
        return f"BidirectionalCell(forward={self.l_cell!r}, backward={self.r_cell!r})"

    def state_info(self, batch_size=0):
        return self.l_cell.state_info(batch_size) + self.r_cell.state_info(batch_size)

    def begin_state(self, **kwargs):
        return self.l_cell.begin_state(**kwargs) + self.r_cell.begin_state(**kwargs)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        if valid_length is not None:
            raise HybridnetValueError("BidirectionalCell.unroll: valid_length is not supported; "
                                      "pad the sequences to one length or use rnn.LSTM/GRU/RNN "
                                      "with bidirectional=True")
        self.reset()
        steps, axis, batch_size = format_sequence(length, inputs, layout, False,
                                                  "BidirectionalCell")
        begin_state = _get_begin_state(self, begin_state, steps, batch_size)
        n_l = len(self.l_cell.state_info(batch_size))
        l_out, l_states = self.l_cell.unroll(length, steps, begin_state[:n_l], layout, False)
        r_out, r_states = self.r_cell.unroll(length, list(reversed(steps)), begin_state[n_l:],
                                             layout, False)
        outputs = [nd.concat(lo, ro, dim=1) for lo, ro in zip(l_out, reversed(r_out))]
        if merge_outputs:
            outputs = nd.stack(*outputs, axis=axis)
        return outputs, l_states + r_states
