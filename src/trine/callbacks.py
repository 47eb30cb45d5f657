"""Callbacks (Keras `keras.callbacks`): the training loop's hooks from trine.training, and
TensorBoard, which traces the model and so lives in trine.inspect."""
from trine.inspect.tensorboard import TensorBoard
from trine.training.callbacks import *  # noqa: F401,F403
from trine.training.callbacks import __all__ as _TRAINING_CALLBACKS

__all__ = sorted(_TRAINING_CALLBACKS + ["TensorBoard"])
