"""``gluon.rnn``: recurrent cells (RNNCell, LSTMCell, GRUCell, ...) and layers (RNN, LSTM, GRU)."""
from .rnn_cell import *  # noqa: F401,F403
from .rnn_layer import *  # noqa: F401,F403
from .container_cells import *  # noqa: F401,F403
