"""Recurrent layers: SimpleRNN, LSTM, GRU, their cells, the generic RNN, and the wrappers
Bidirectional and TimeDistributed.

Weights have Keras's layouts and gate orders, so they transfer to and from Keras unchanged:

- SimpleRNN: kernel `(input_dim, units)`, recurrent_kernel `(units, units)`, bias `(units,)`.
- LSTM: kernel `(input_dim, 4 * units)`, recurrent_kernel `(units, 4 * units)`, bias
  `(4 * units,)`, gates in the order input, forget, cell candidate, output (i, f, c, o).
- GRU: kernel `(input_dim, 3 * units)`, recurrent_kernel `(units, 3 * units)`, gates in the
  order update, reset, candidate (z, r, h); bias `(2, 3 * units)` (input bias, recurrent
  bias) with `reset_after=True` (the default), `(3 * units,)` otherwise.

Start with `rnn.py` (the time loop), then `cells.py` (one timestep each).
"""
from trine.layers.recurrent.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
# the wrappers and the augmentation pipeline nest layers in their configs with these two
from trine.layers.recurrent.layer_config import deserialize_layer, serialize_layer  # noqa: F401
from trine.layers.recurrent.rnn import RNN
from trine.layers.recurrent.rnn_layers import GRU, LSTM, SimpleRNN
from trine.layers.recurrent.sequence_wrappers import Bidirectional, TimeDistributed

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "SimpleRNN", "LSTM",
           "GRU", "Bidirectional", "TimeDistributed"]
