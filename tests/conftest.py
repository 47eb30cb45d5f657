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
    """Each test starts with fresh layer names and the same global seed."""
    import trine
    trine.clear_session()
    trine.utils.set_random_seed(1337)
    yield
