"""The explicit allow-list: every name a model file may resolve to an object.

A file is data. A class or function named in a config loads only if it is listed here (or the
user registered it or passed it in `custom_objects`). These are lists, reviewed by hand, not
namespaces: a name added to `trine.ops`, `jax.numpy` or a trine module later is NOT loadable
until it is added below (tests/test_saving_reachability.py checks that what files can reach is
exactly this list).

Rules for adding a function: it takes tensors and returns tensors, and touches no files,
processes, environment, caches or global state; it takes no callables; its output size is set
by its tensor inputs (or by literal arguments whose result the loader's size budget checks).
"""
from __future__ import annotations

# ----------------------------------------------------------------------------- classes
# kind -> class names resolved as attributes of that kind's trine module (see MODULES).
CLASSES: dict[str, tuple[str, ...]] = {
    "layers": (
        "Activation", "ActivityRegularization", "AdaptiveAveragePooling1D",
        "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D",
        "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "Add", "AdditiveAttention",
        "AlphaDropout", "Attention", "AugMix", "AutoContrast", "Average", "AveragePooling1D",
        "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "BatchNormalization", "Bidirectional", "CategoryEncoding", "CenterCrop", "Concatenate",
        "ContrastLimitedAdaptiveHistogramEqualization", "Conv1D", "Conv1DTranspose", "Conv2D",
        "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
        "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
        "Convolution1D", "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose",
        "Convolution3D", "Convolution3DTranspose", "Cropping1D", "Cropping2D", "Cropping3D",
        "CutMix", "Dense", "DepthwiseConv1D", "DepthwiseConv2D", "Discretization", "Dot",
        "Dropout", "ELU", "EinsumDense", "Embedding", "Equalization", "Flatten", "GRU",
        "GRUCell", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D",
        "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
        "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
        "GlobalMaxPool3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GroupNormalization", "GroupQueryAttention", "HashedCrossing", "Hashing", "Identity",
        "InputLayer",
        "IntegerLookup", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization",
        "LeakyReLU", "Masking", "MaxNumBoundingBoxes", "MaxPool1D", "MaxPool2D", "MaxPool3D",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Maximum", "MelSpectrogram", "Minimum",
        "MixUp",
        "MultiHeadAttention", "Multiply", "Normalization", "OpLayer", "PReLU", "Permute",
        "Pipeline", "RMSNormalization", "RNN", "RandAugment", "RandomBrightness",
        "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
        "RandomElasticTransform",
        "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
        "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation",
        "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom",
        "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing", "ReversibleEmbedding",
        "STFTSpectrogram",
        "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
        "SeparableConvolution2D", "SimpleRNN", "SimpleRNNCell", "Softmax", "Solarization",
        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "SpectralNormalization",
        "StackedRNNCells", "StringLookup", "Subtract", "TextVectorization", "TimeDistributed",
        "UnitNormalization", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Wrapper",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    ),
    "models": ("Functional", "Model", "Sequential"),
    "optimizers": (
        "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion",
        "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap",
        "Muon", "Nadam", "RMSprop", "SGD", "ScheduleFreeAdamW",
    ),
    "schedules": (
        "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
        "PiecewiseConstantDecay", "PolynomialDecay",
    ),
    "losses": (
        "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
        "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy",
        "CategoricalHinge", "Circle", "CosineSimilarity", "Dice", "Hinge", "Huber",
        "KLDivergence", "LogCosh", "LossFunctionWrapper", "MeanAbsoluteError",
        "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError",
        "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "Tversky",
    ),
    "metrics": (
        "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU",
        "CategoricalAccuracy", "CategoricalCrossentropy", "CategoricalHinge",
        "ConcordanceCorrelation", "CosineSimilarity", "F1Score", "FBetaScore",
        "FalseNegatives", "FalsePositives", "Hinge", "IoU", "KLDivergence", "LogCoshError",
        "Mean", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanIoU",
        "MeanMetricWrapper", "MeanSquaredError", "MeanSquaredLogarithmicError", "OneHotIoU",
        "OneHotMeanIoU", "PearsonCorrelation", "Poisson", "Precision", "PrecisionAtRecall",
        "R2Score", "Recall", "RecallAtPrecision", "RootMeanSquaredError",
        "SensitivityAtSpecificity", "SparseCategoricalAccuracy",
        "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy",
        "SpecificityAtSensitivity", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
        "TrueNegatives", "TruePositives",
    ),
    "initializers": (
        "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
        "IdentityInitializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
        "OrthogonalInitializer", "RandomNormal", "RandomUniform", "STFT", "STFTInitializer",
        "TruncatedNormal", "VarianceScaling", "Zeros", "constant", "glorot_normal",
        "glorot_uniform", "he_normal", "he_uniform", "identity", "lecun_normal",
        "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform", "stft",
        "truncated_normal", "variance_scaling", "zeros",
    ),
    "regularizers": (
        "L1", "L1L2", "L2", "OrthogonalRegularizer", "l1", "l1_l2", "l2",
        "orthogonal_regularizer",
    ),
    "constraints": (
        "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm", "non_neg",
        "unit_norm",
    ),
    "activations": (),
}

# Public classes and functions of those modules that a file may NOT name (bases, helpers),
# reviewed like the lists: tests/test_saving_reachability.py fails on a public name in neither.
NOT_LOADABLE: dict[str, tuple[str, ...]] = {
    # they wrap user JAX functions / Flax modules: rebuild them in code, then load weights;
    # TFSMLayer and TorchModuleWrapper only raise (they need another framework)
    "layers": ("FlaxLayer", "JaxLayer", "TFSMLayer", "TorchModuleWrapper"),
    "optimizers": ("KerasOptimizerState", "LearningRateSchedule", "OptaxOptimizer",
                   "Optimizer", "CosineDecay", "CosineDecayRestarts", "ExponentialDecay",
                   "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay"),
    "schedules": ("LearningRateSchedule",),
    "losses": ("Loss", "deserialize", "get", "reduce_weighted_values", "serialize",
               "squeeze_or_expand_to_same_rank"),
    "metrics": ("Metric", "deserialize", "get", "resolve_accuracy", "serialize",
                "squeeze_or_expand_to_same_rank"),
    "initializers": ("Initializer", "RandomInitializer"),
    "regularizers": ("Regularizer",),
    "constraints": ("Constraint",),
    "activations": ("Variable", "deserialize", "get", "serialize"),
}

# Functions a config may name by kind (an activation string, a loss or metric function).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "activations": (
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
        "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
        "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink",
        "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
        "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
    ),
    "losses": (
        "BCE", "KLD", "MAE", "MAPE", "MSE", "MSLE", "bce", "binary_crossentropy",
        "binary_focal_crossentropy", "categorical_crossentropy",
        "categorical_focal_crossentropy", "categorical_generalized_cross_entropy",
        "categorical_hinge", "circle", "cosine_similarity", "ctc", "dice", "hinge", "huber",
        "kl_divergence", "kld", "kullback_leibler_divergence", "log_cosh", "logcosh", "mae",
        "mape", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
        "mean_squared_logarithmic_error", "mse", "msle", "poisson",
        "sparse_categorical_crossentropy", "squared_hinge", "tversky",
    ),
    "metrics": (
        "accuracy", "binary_accuracy", "binary_crossentropy", "binary_focal_crossentropy",
        "categorical_accuracy", "categorical_crossentropy", "categorical_focal_crossentropy",
        "categorical_hinge", "concordance_correlation", "cosine_similarity", "hinge", "huber",
        "kl_divergence", "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error",
        "mean_squared_error", "mean_squared_logarithmic_error", "pearson_correlation",
        "poisson", "sparse_categorical_accuracy", "sparse_categorical_crossentropy",
        "sparse_top_k_categorical_accuracy", "squared_hinge", "top_k_categorical_accuracy",
    ),
}

# ------------------------------------------------------------------ tensor functions
# Pure array functions of jax.numpy / trine.ops (same names in both). Left out on purpose:
# file and buffer I/O (load, save, savez, fromfile, frombuffer, fromstring, fromiter,
# from_dlpack), anything taking callables (vectorize, frompyfunc, piecewise, fromfunction,
# apply_along_axis, apply_over_axes, cond, scan, while_loop, fori_loop, map, switch,
# associative_scan, vectorized_map, custom_gradient, jvp), global state (printoptions,
# set_printoptions, get_printoptions), host-side results (convert_to_numpy, shape, dtype,
# is_tensor, any_symbolic, isscalar, iterable, array_repr, array_str, einsum_path, the dtype
# queries), arrays sized only by literals (zeros, ones, empty, full, eye, identity, arange,
# linspace, logspace, geomspace, tri, *_indices, windows, meshgrid), and data-dependent shapes
# (unique*, nonzero, argwhere, flatnonzero, extract, compress, set operations, trim_zeros,
# histogram*, roots, polyfit, place, put, fill_diagonal).
ARRAY_FUNCTIONS: tuple[str, ...] = (
    "abs", "absolute", "acos", "acosh", "add", "all", "allclose", "amax", "amin", "angle",
    "any", "append", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "argmax", "argmin", "argpartition", "argsort", "around", "array", "array_equal",
    "array_equiv", "asarray", "asin", "asinh", "astype", "atan", "atan2", "atanh",
    "atleast_1d", "atleast_2d", "atleast_3d", "average", "bincount", "bitwise_and",
    "bitwise_count", "bitwise_invert", "bitwise_left_shift", "bitwise_not", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "broadcast_arrays", "broadcast_to", "cbrt", "ceil",
    "choose", "clip", "column_stack", "concat", "concatenate", "conj", "conjugate", "convolve",
    "copy", "copysign", "corrcoef", "correlate", "cos", "cosh", "count_nonzero", "cov",
    "cross", "cumprod", "cumsum", "cumulative_prod", "cumulative_sum", "deg2rad", "degrees",
    "delete", "diag", "diagflat", "diagonal", "diff", "digitize", "divide", "divmod", "dot",
    "dsplit", "dstack", "ediff1d", "einsum", "empty_like", "equal", "exp", "exp2",
    "expand_dims", "expm1", "fabs", "flip", "fliplr", "flipud", "float_power", "floor",
    "floor_divide", "fmax", "fmin", "fmod", "frexp", "full_like", "gcd", "gradient", "greater",
    "greater_equal", "heaviside", "hsplit", "hstack", "hypot", "i0", "imag", "inner", "insert",
    "interp", "invert", "isclose", "iscomplex", "isfinite", "isin", "isinf", "isnan",
    "isneginf", "isposinf", "isreal", "kron", "lcm", "ldexp", "left_shift", "less",
    "less_equal", "lexsort", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "matmul", "matrix_transpose",
    "matvec", "max", "maximum", "mean", "median", "min", "minimum", "mod", "modf", "moveaxis",
    "multiply", "nan_to_num", "nanargmax", "nanargmin", "nancumprod", "nancumsum", "nanmax",
    "nanmean", "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile", "nanstd",
    "nansum", "nanvar", "ndim", "negative", "nextafter", "not_equal", "ones_like", "outer",
    "packbits", "pad", "partition", "percentile", "permute_dims", "polyadd", "polyder",
    "polyint", "polymul", "polysub", "polyval", "positive", "pow", "power", "prod", "ptp",
    "put_along_axis", "quantile", "rad2deg", "radians", "ravel", "ravel_multi_index", "real",
    "reciprocal", "remainder", "repeat", "reshape", "right_shift", "rint", "roll", "rollaxis",
    "rot90", "round", "searchsorted", "select", "sign", "signbit", "sin", "sinc", "sinh",
    "size", "sort", "sort_complex", "spacing", "split", "sqrt", "square", "squeeze", "stack",
    "std", "subtract", "sum", "swapaxes", "take", "take_along_axis", "tan", "tanh",
    "tensordot", "tile", "trace", "transpose", "trapezoid", "tril", "triu", "true_divide",
    "trunc", "unpackbits", "unravel_index", "unwrap", "vander", "var", "vdot", "vecdot",
    "vecmat", "vsplit", "vstack", "where", "zeros_like",
)

# Keras's own ops beyond jax.numpy (trine.ops), same rules.
KERAS_OPS: tuple[str, ...] = (
    "average_pool", "batch_normalization", "binary_crossentropy", "cast",
    "categorical_crossentropy", "cdist", "cholesky", "cholesky_inverse", "conv",
    "conv_transpose", "convert_to_tensor", "ctc_loss", "depth_to_space", "depthwise_conv",
    "det", "divide_no_nan", "dot_product_attention", "eig", "eigh", "erf", "erfc", "erfinv",
    "fft", "fft2", "get_item", "hard_shrink", "hard_silu", "hard_swish", "ifft2", "in_top_k",
    "inv", "irfft", "layer_normalization", "leaky_relu", "logdet", "logsumexp", "lstsq",
    "lu_factor", "matrix_rank", "max_pool", "moments", "multi_hot", "norm", "normalize",
    "one_hot", "pinv", "polar", "psnr", "qr", "rfft", "rms_normalization", "rsqrt",
    "saturate_cast", "scatter", "scatter_update", "segment_max", "segment_min", "segment_prod",
    "segment_sum", "separable_conv", "slice", "slice_update", "slogdet", "soft_shrink",
    "softsign", "solve", "solve_triangular", "space_to_depth", "sparse_categorical_crossentropy",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "stop_gradient", "svd",
    "tanh_shrink", "threshold", "top_k", "unstack", "view_as_complex", "view_as_real",
    # activations trine.ops forwards from jax.nn
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_tanh", "log_sigmoid", "log_softmax",
    "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "standardize", "swish",
    # signal and shape ops of keras.ops (pure: tensors and literal sizes or patterns in)
    "adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "extract_sequences", "fold",
    "istft", "rearrange", "stft", "unfold", "view",
    # trine's image ops, recorded under their private op names
    "_image_resize", "_image_rgb_to_grayscale", "_image_map_coordinates",
    "_image_affine_transform", "_image_crop_images", "_image_elastic_transform",
    "_image_extract_patches", "_image_extract_patches_3d", "_image_gaussian_blur",
    "_image_hsv_to_rgb", "_image_pad_images", "_image_perspective_transform",
    "_image_rgb_to_hsv", "_image_scale_and_translate", "_image_sobel_edges", "_image_ssim",
)

JAX_NN: tuple[str, ...] = (
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "log_sigmoid", "log_softmax", "logsumexp", "one_hot", "relu", "relu6",
    "selu", "sigmoid", "silu", "soft_sign", "softmax", "softplus", "sparse_plus",
    "sparse_sigmoid", "squareplus", "standardize", "swish", "tanh",
)

# Modules whose listed functions a Lambda may name: module -> names.
LAMBDA_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "jax.numpy": ARRAY_FUNCTIONS,
    "jax.nn": JAX_NN,
    "trine.ops": ARRAY_FUNCTIONS + tuple(n for n in KERAS_OPS if not n.startswith("_")),
    "trine.activations": FUNCTIONS["activations"],
}

# Names an ops-layer node ("op": "ops.<name>") may apply.
OPS_LAYER_FUNCTIONS: frozenset[str] = frozenset(ARRAY_FUNCTIONS + KERAS_OPS)
