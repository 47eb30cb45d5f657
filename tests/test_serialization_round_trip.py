"""Every class a file may name comes back exactly: generated from the registry's allow-list.

For each allow-listed layer class (a recipe builds a small model around it), the model's
`from_config(get_config())`, `model_from_json(to_json())`, `clone_model` and `save` /
`load_model` give the same config and `==` predictions (weights copied where the route makes
fresh ones). Every other kind (optimizers, schedules, losses, metrics, initializers,
regularizers, constraints, activations) round-trips through `serialize_keras_object` /
`deserialize_keras_object` to an equal config. A class added to the allow-list later without a
recipe here fails `test_every_allow_listed_class_is_covered`.
"""
import json

import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import registry
from trine.registry import allowlist
from trine.saving import deserialize_keras_object, serialize_keras_object
from test_saving_interop import RECIPES as INTEROP_RECIPES


def _img(L, layer):
    return (lambda L_: layer(L_), (8, 8, 3))


RECIPES = dict(INTEROP_RECIPES)
RECIPES.update({
    "Lambda": (lambda L: L.Lambda(jnp.tanh), (6,)),
    "EinsumDense": (lambda L: L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c"),
                    (6,)),
    "RMSNormalization": (lambda L: L.RMSNormalization(), (6,)),
    "GroupQueryAttention": (lambda L: L.GroupQueryAttention(head_dim=4, num_query_heads=4,
                                                            num_key_value_heads=2), (5, 8),
                            "self"),
    "AdaptiveAveragePooling1D": (lambda L: L.AdaptiveAveragePooling1D(3), (9, 2)),
    "AdaptiveMaxPooling1D": (lambda L: L.AdaptiveMaxPooling1D(3), (9, 2)),
    "AdaptiveAveragePooling2D": (lambda L: L.AdaptiveAveragePooling2D((2, 3)), (8, 9, 2)),
    "AdaptiveMaxPooling2D": (lambda L: L.AdaptiveMaxPooling2D((2, 3)), (8, 9, 2)),
    "AdaptiveAveragePooling3D": (lambda L: L.AdaptiveAveragePooling3D(2), (4, 4, 4, 2)),
    "AdaptiveMaxPooling3D": (lambda L: L.AdaptiveMaxPooling3D(2), (4, 4, 4, 2)),
    "ReversibleEmbedding": (lambda L: L.ReversibleEmbedding(10, 4), ("int32", (5,), 10)),
    "SpectralNormalization": (lambda L: L.SpectralNormalization(L.Dense(3)), (6,)),
    "GlobalAvgPool3D": (lambda L: L.GlobalAvgPool3D(), (3, 3, 3, 2)),
    "GlobalMaxPool3D": (lambda L: L.GlobalMaxPool3D(), (3, 3, 3, 2)),
    "Convolution1DTranspose": (lambda L: L.Convolution1DTranspose(2, 3), (6, 2)),
    "Convolution2DTranspose": (lambda L: L.Convolution2DTranspose(2, 3), (6, 6, 2)),
    "Convolution3DTranspose": (lambda L: L.Convolution3DTranspose(2, 2), (4, 4, 4, 2)),
    "SeparableConvolution1D": (lambda L: L.SeparableConvolution1D(2, 3), (6, 2)),
    "SeparableConvolution2D": (lambda L: L.SeparableConvolution2D(2, 3), (6, 6, 2)),
    "STFTSpectrogram": (lambda L: L.STFTSpectrogram(frame_length=8, frame_step=4), (32, 1)),
    "MelSpectrogram": (lambda L: L.MelSpectrogram(fft_length=32, sequence_stride=8,
                                                  num_mel_bins=4), (64,)),
    "ContrastLimitedAdaptiveHistogramEqualization": (
        lambda L: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)),
        (8, 8, 3)),
    "RandomElasticTransform": (lambda L: L.RandomElasticTransform(seed=1), (8, 8, 3)),
    "AugMix": (lambda L: L.AugMix(seed=1), (8, 8, 3)),
    "ConvLSTM1D": (lambda L: L.ConvLSTM1D(2, 3, padding="same"), (3, 6, 2)),
    "ConvLSTM2D": (lambda L: L.ConvLSTM2D(2, 3, return_sequences=True), (3, 5, 5, 2)),
    "ConvLSTM3D": (lambda L: L.ConvLSTM3D(2, 2), (2, 3, 3, 3, 2)),
})
# Image augmentation / preprocessing layers: identity-or-deterministic at inference.
for _name in ("AutoContrast", "RandomBrightness", "RandomColorDegeneration", "RandomCrop",
              "RandomGrayscale", "RandomInvert", "RandomPosterization", "Solarization",
              "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation",
              "RandomZoom", "Rescaling", "Resizing", "CenterCrop", "CutMix", "Equalization",
              "MixUp", "RandAugment", "RandomColorJitter", "RandomErasing",
              "RandomGaussianBlur", "RandomHue", "RandomPerspective", "RandomSaturation",
              "RandomSharpness", "RandomShear"):
    _args = {"RandomBrightness": (0.2,), "RandomCrop": (4, 4), "RandomColorDegeneration": (0.5,),
             "RandomPosterization": (4,), "Solarization": (), "RandomContrast": (0.2,),
             "RandomFlip": (), "RandomRotation": (0.1,), "RandomTranslation": (0.1, 0.1),
             "RandomZoom": (0.1,), "Rescaling": (0.5,), "Resizing": (4, 4),
             "CenterCrop": (4, 4), "RandomHue": (0.2,), "RandomSaturation": (0.2,),
             "RandomSharpness": (0.2,), "RandomShear": (0.2,)}.get(_name, ())
    if _name not in RECIPES:
        RECIPES[_name] = ((lambda n, a: lambda L: getattr(L, n)(*a))(_name, _args), (8, 8, 3))

# Not standalone in a graph: covered by a layer-level config round trip instead.
LAYER_ONLY = {"Layer", "InputLayer", "OpLayer", "StringLookup", "IntegerLookup",
              "TextVectorization", "Hashing", "HashedCrossing", "Wrapper", "Pipeline", "RNN",
              "StackedRNNCells",
              "LSTMCell", "GRUCell", "SimpleRNNCell", "MaxNumBoundingBoxes"}


def _inputs(spec, rng):
    specs = spec if isinstance(spec, list) else [spec]
    tensors, data = [], []
    for i, s in enumerate(specs):
        if isinstance(s, tuple) and s and s[0] == "int32":
            _, shape, high = s
            tensors.append(trine.layers.Input(shape=shape, dtype="int32", name=f"in{i}"))
            data.append(rng.integers(0, high, size=(3,) + shape).astype(np.int32))
        else:
            tensors.append(trine.layers.Input(shape=s, name=f"in{i}"))
            data.append(rng.uniform(0, 1, size=(3,) + s).astype(np.float32))
    return (tensors, data) if isinstance(spec, list) else (tensors[0], data[0])


def _model(name):
    recipe = RECIPES[name]
    inp, data = _inputs(recipe[1], np.random.default_rng(0))
    layer = recipe[0](trine.layers)
    out = layer(inp, inp) if len(recipe) > 2 and recipe[2] == "self" else layer(inp)
    return trine.Model(inp, out), data


def _norm(cfg):
    return json.loads(json.dumps(cfg))


def _predict(model, data):
    return [np.asarray(o) for o in jax_tree_leaves(model(data, training=False))]


def jax_tree_leaves(x):
    import jax
    return jax.tree_util.tree_leaves(x)


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# aliases (AvgPool2D is AveragePooling2D) are the same class: covered under the canonical name
GRAPH_LAYERS = sorted(n for n in allowlist.CLASSES["layers"] if n not in LAYER_ONLY
                      and registry.resolve_class("layers", n).__name__ == n)


def test_every_allow_listed_class_is_covered():
    missing = [n for n in GRAPH_LAYERS if n not in RECIPES]
    assert not missing, f"add a recipe for {missing} to tests/test_serialization_round_trip.py"


@pytest.mark.parametrize("name", GRAPH_LAYERS)
def test_layer_round_trips_every_route(name, tmp_path):
    if name not in RECIPES:
        pytest.fail(f"no recipe for {name}")
    model, data = _model(name)
    cfg = _norm(model.get_config())
    expected = _predict(model, data)
    weights = model.get_weights()
    routes = {
        "from_config": lambda: trine.Model.from_config(model.get_config()),
        "json": lambda: trine.models.model_from_json(model.to_json()),
        "clone": lambda: trine.models.clone_model(model),
    }
    for route, make in routes.items():
        other = make()
        assert _norm(other.get_config()) == cfg, route
        other.set_weights(weights)
        _same(_predict(other, data), expected)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = trine.models.load_model(path)
    assert _norm(loaded.get_config()) == cfg
    _same(_predict(loaded, data), expected)


@pytest.mark.parametrize("kind", [k for k in registry.MODULES if k not in ("layers", "models")])
def test_every_other_kind_round_trips_by_config(kind):
    """Objects built with their defaults (those that need arguments get the ones below)."""
    needs = {"PiecewiseConstantDecay": dict(boundaries=[10], values=[0.1, 0.01]),
             "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=10),
             "CosineDecayRestarts": dict(initial_learning_rate=0.1, first_decay_steps=10),
             "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9),
             "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
             "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=10),
             "Constant": dict(value=0.5), "IoU": dict(num_classes=3, target_class_ids=[0]),
             "MeanIoU": dict(num_classes=3), "OneHotIoU": dict(num_classes=3,
                                                                 target_class_ids=[0]),
             "OneHotMeanIoU": dict(num_classes=3), "BinaryIoU": dict(),
             "MeanMetricWrapper": dict(fn=trine.metrics.mean_squared_error),
             "LossFunctionWrapper": dict(fn=trine.losses.mean_squared_error),
             "LossScaleOptimizer": dict(inner_optimizer=trine.optimizers.SGD()),
             "MultiOptimizer": None, "OptimizerMap": None, "STFT": dict(),
             "PrecisionAtRecall": dict(recall=0.5), "RecallAtPrecision": dict(precision=0.5),
             "SensitivityAtSpecificity": dict(specificity=0.5),
             "SpecificityAtSensitivity": dict(sensitivity=0.5), "CTC": dict(),
             "F1Score": dict(), "FBetaScore": dict()}
    problems = []
    classes = registry.allowed_classes(kind)
    for name, cls in sorted(classes.items()):
        if cls.__name__ != name or needs.get(name, {}) is None:
            continue  # aliases are the same class; map-style optimizers need variables
        try:
            obj = cls(**needs.get(name, {}))
        except TypeError as e:
            problems.append(f"{kind}.{name}: cannot build with defaults ({e}); add its "
                            "arguments to `needs`")
            continue
        record = _norm(serialize_keras_object(obj))
        back = deserialize_keras_object(record)
        if type(back) is not cls:
            problems.append(f"{kind}.{name}: came back as {type(back).__name__}")
        elif _norm(serialize_keras_object(back)) != record:
            problems.append(f"{kind}.{name}: config changed on the round trip")
    for name, fn in registry.allowed_functions(kind).items():
        back = deserialize_keras_object(_norm(serialize_keras_object(fn)))
        if back is not fn and not (kind == "losses" and back.__name__ == fn.__name__):
            problems.append(f"{kind}.{name} (function) came back as {back!r}")
    assert not problems, "\n".join(problems)
