"""Every public name of Keras 3's namespaces exists in trine or is listed, in one visible place
(tests/api_not_yet_built.txt), as not built yet; the list must not go stale."""
import pytest

import api_inventory

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def inventory():
    return api_inventory.inventory()


def test_counts_are_printed(inventory, capsys):
    text = api_inventory.counts_text(inventory)
    with capsys.disabled():
        print("\ntrine has, of Keras's public names:\n" + text)
    assert "overall:" in text


def test_missing_names_are_listed_and_list_is_not_stale(inventory):
    missing = {api_inventory.qualified(ns, n) for ns, (_, m) in inventory.items() for n in m}
    listed = api_inventory.listed_names()
    unlisted = sorted(missing - listed)
    stale = sorted(listed - missing)
    fix = "Regenerate the list: .venv/bin/python tests/api_inventory.py --write"
    assert not unlisted, (f"{len(unlisted)} Keras names are neither in trine nor in "
                          f"tests/api_not_yet_built.txt: {unlisted[:20]}. {fix}")
    assert not stale, (f"{len(stale)} names listed as not yet built now exist in trine (or are "
                       f"no longer Keras names): {stale[:20]}. {fix}")


def test_this_issues_namespaces_are_complete(inventory):
    # ops (and submodules), tree, config and backend were built in full: keep them so
    for ns in ("ops", "ops.image", "ops.nn", "ops.numpy", "ops.linalg", "tree", "config",
               "backend"):
        assert inventory[ns][1] == [], (ns, inventory[ns][1])
