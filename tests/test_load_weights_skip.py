"""load_weights(skip_mismatch=True) reports what it skipped, as Keras 3 does: one warning
naming every layer left out, the matching layers loaded."""
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import trine  # noqa: E402
from trine.saving import SavingError  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


def saved(lib, tmp_path):
    m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="a"),
                        lib.layers.Dense(2, name="b")])
    path = str(tmp_path / f"{lib.__name__}.weights.h5")
    m.save_weights(path)
    return m, path


def other(lib, case):
    layers = [lib.Input((4,)), lib.layers.Dense(3, name="a")]
    layers += ([lib.layers.Dense(5, name="b")] if case == "wrong_shape" else
               [lib.layers.Dense(2, name="b"), lib.layers.Dense(2, name="c")])
    return lib.Sequential(layers)


@pytest.mark.parametrize("case, skipped", [("wrong_shape", "b"), ("not_in_file", "c")])
def test_skip_mismatch_reports_the_skipped_layers(tmp_path, case, skipped):
    reports = {}
    for lib in (trine, keras):
        m, path = saved(lib, tmp_path)
        target = other(lib, case)
        keep = [np.asarray(w).copy() for w in target.get_layer(skipped).get_weights()]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            target.load_weights(path, skip_mismatch=True)
        msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        reports[lib.__name__] = msgs
        assert len(msgs) == 1, msgs
        assert f"'{skipped}'" in msgs[0] or f"name={skipped}," in msgs[0]
        np.testing.assert_array_equal(np.asarray(target.get_layer("a").kernel),
                                      np.asarray(m.get_layer("a").kernel))
        for a, b in zip(target.get_layer(skipped).get_weights(), keep):
            np.testing.assert_array_equal(np.asarray(a), b)  # the skipped layer is untouched
    assert "1 layer(s) could not be loaded" in reports["trine"][0]
    assert "A total of 1 objects could not be loaded" in reports["keras"][0]


def test_without_skip_mismatch_nothing_is_loaded(tmp_path):
    m, path = saved(trine, tmp_path)
    target = other(trine, "wrong_shape")
    before = [np.asarray(w).copy() for w in target.get_weights()]
    with pytest.raises(SavingError, match="(?s)layer .b.*skip_mismatch=True"):
        target.load_weights(path)
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(np.asarray(a), b)
