"""trine.tree against keras.tree on the same snippets (dict key order, None, namedtuples)."""
import collections

import numpy as np
import pytest

from trine import tree

keras = pytest.importorskip("keras")

Point = collections.namedtuple("Point", ["y", "x"])
STRUCTS = [
    1,
    None,
    [],
    {},
    [1, None, 2],
    {"b": 1, "a": [2, None], "c": {"z": 3, "y": (4, 5)}},
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.defaultdict(int, {"z": 1, "a": 2}),
    (Point(1, [2, 3]), {"k": None}),
    [np.zeros(2), (np.ones(1), {"w": np.ones(3)})],
    ((), [[]], {"e": []}),
]
IDS = [f"s{i}" for i in range(len(STRUCTS))]


def _same(a, b):
    """Equal values with equal container types at every level."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def _both(fn_name, *args, **kwargs):
    """Run the same call on both libraries; both raise ValueError/TypeError or both agree."""
    outs = []
    for lib in (tree, keras.tree):
        try:
            outs.append(("ok", getattr(lib, fn_name)(*args, **kwargs)))
        except (ValueError, TypeError) as e:
            outs.append(("error", type(e).__name__))
    assert outs[0][0] == outs[1][0], (fn_name, outs)
    return outs[0][1], outs[1][1]


@pytest.mark.parametrize("s", STRUCTS, ids=IDS)
def test_flatten_paths_nested_pack(s):
    mine, theirs = _both("flatten", s)
    _same(mine, theirs)
    mine, theirs = _both("flatten_with_path", s)
    assert [p for p, _ in mine] == [p for p, _ in theirs]
    assert tree.is_nested(s) == keras.tree.is_nested(s)
    flat = list(range(len(theirs)))
    _same(*_both("pack_sequence_as", s, flat))
    _same(*_both("lists_to_tuples", s))


@pytest.mark.parametrize("s", STRUCTS, ids=IDS)
def test_map_structure(s):
    def f(x):
        return None if x is None else ("leaf", str(np.asarray(x).tolist()))
    _same(*_both("map_structure", f, s))
    _same(*_both("map_structure", lambda a, b: (a is None, b is None), s, s))
    _same(*_both("map_structure", lambda x: x, s, none_is_leaf=False))


def test_traverse_top_down_and_bottom_up():
    s = {"a": [1, 2, (3, None)], "b": {"c": [4]}}
    for top_down in (True, False):
        visits = {lib: [] for lib in ("t", "k")}

        def make(key):
            def fn(x):
                visits[key].append(repr(x))
                if isinstance(x, int) and x == 2:
                    return 20
                if isinstance(x, tuple):
                    return keras.tree.MAP_TO_NONE if key == "k" else tree.MAP_TO_NONE
                return None
            return fn
        _same(tree.traverse(make("t"), s, top_down=top_down),
              keras.tree.traverse(make("k"), s, top_down=top_down))
        assert visits["t"] == visits["k"]


@pytest.mark.parametrize("a,b", [
    ([1, 2], [3, 4]),
    ([1, 2], (3, 4)),
    ([1, [2]], [1, 2]),
    ({"a": 1}, {"b": 1}),
    ({"a": 1, "b": None}, {"b": 3, "a": 2}),
    ([None], [1]),
    (Point(1, 2), (1, 2)),
    ({"x": [1, 2]}, {"x": (1, 2)}),
])
def test_assert_same_structure_and_paths(a, b):
    _both("assert_same_structure", a, b)
    _both("assert_same_paths", a, b)
    _both("map_structure", lambda x, y: 0, a, b)


def test_map_structure_up_to_and_shapes():
    shallow = {"b": [0, 0], "a": 0}
    deep = {"a": [1, 2], "b": [{"c": 3}, (4, 5)]}
    _same(*_both("map_structure_up_to", shallow, lambda x: repr(x), deep))
    _both("map_structure_up_to", [None, None], lambda x: x, [1])
    shapes = {"x": (None, 3), "y": [(2, 4), [5]]}
    _same(*_both("map_shape_structure", lambda s: tuple(d or 0 for d in s), shapes))


def test_errors_are_clear():
    with pytest.raises(ValueError, match="flat_sequence has 1 entries"):
        tree.pack_sequence_as([1, 2], [0])
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure(lambda x: x)
    with pytest.raises(ValueError, match="Paths in `a` missing in `b`"):
        tree.assert_same_paths({"a": 1}, {"b": 1})
