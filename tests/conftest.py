import os
import pathlib

# Keras (a test-only oracle) must use its JAX backend; set before anything imports it.
os.environ.setdefault("KERAS_BACKEND", "jax")
_shared = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
if "TRINE_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["TRINE_DATA_DIR"] = str(_shared)

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_names():
    """Each test starts with fresh layer names and the same global seed, and leaves trine's
    (and the Keras oracle's) global settings as it found them, so no test depends on the order
    tests run in."""
    import sys

    import trine
    trine.clear_session()
    trine.utils.set_random_seed(1337)
    settings = dict(trine.config._SETTINGS)
    keras = sys.modules.get("keras")
    keras_state = None
    if keras is not None:
        from keras.src.backend.common import global_state
        keras_state = (keras.config.floatx(), keras.config.epsilon(),
                       keras.config.image_data_format(),
                       global_state.get_global_attribute("dtype_policy", None))
    yield
    trine.config._SETTINGS.clear()
    trine.config._SETTINGS.update(settings)
    if keras_state is not None:
        keras.config.set_floatx(keras_state[0])
        keras.config.set_epsilon(keras_state[1])
        keras.config.set_image_data_format(keras_state[2])
        global_state.set_global_attribute("dtype_policy", keras_state[3])
