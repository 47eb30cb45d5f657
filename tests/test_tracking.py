"""core.tracking: what a layer owns, and the machinery attributes trine's classes declare."""
import trine
from trine.core.tracking import machinery_attrs


def test_fresh_instances_declare_every_attribute_they_set():
    # an attribute a trine class sets but does not declare would be saved as user state
    fresh = [trine.layers.Layer(name="t_layer"), trine.Model(name="t_model"),
             trine.Sequential([trine.Input((3,)), trine.layers.Dense(2)])]
    inputs = trine.Input((3,))
    fresh.append(trine.Model(inputs, trine.layers.Dense(2)(inputs)))
    for obj in fresh:
        assert set(obj.__dict__) <= machinery_attrs(type(obj)), type(obj).__name__

