"""Layers (Keras `keras.layers`)."""
from trine.core.layer import InputSpec, Layer
from trine.layers import ops_layer as _ops_layer  # noqa: F401  (registers op recording)
from trine.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from trine.layers.adaptive_pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,
                                           AdaptiveAveragePooling3D, AdaptiveMaxPooling1D,
                                           AdaptiveMaxPooling2D, AdaptiveMaxPooling3D)
from trine.layers.augmentation import (AugMix, AutoContrast,
                                      ContrastLimitedAdaptiveHistogramEqualization, CutMix,
                                      Equalization, MaxNumBoundingBoxes,
                                      MixUp, Pipeline, RandAugment, RandomBrightness,
                                      RandomColorDegeneration, RandomColorJitter, RandomCrop,
                                      RandomElasticTransform,
                                      RandomErasing, RandomGaussianBlur, RandomGrayscale,
                                      RandomHue, RandomInvert, RandomPerspective,
                                      RandomPosterization, RandomSaturation, RandomSharpness,
                                      RandomShear, Solarization)
from trine.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from trine.layers.audio import MelSpectrogram, STFTSpectrogram
from trine.layers.conv import Conv1D, Conv2D, Conv3D
from trine.layers.conv_depthwise import (DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                                         SeparableConv2D)
from trine.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from trine.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from trine.layers.core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer, Reshape
from trine.layers.einsum_dense import EinsumDense
from trine.layers.embedding import Embedding, Masking
from trine.layers.group_query_attention import GroupQueryAttention
from trine.layers.jax_layer import FlaxLayer, JaxLayer
from trine.layers.tfsm_layer import TFSMLayer
from trine.layers.torch_module_wrapper import TorchModuleWrapper
from trine.layers.lambda_layer import Lambda
from trine.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract,
                                  add, average, concatenate, maximum, minimum, multiply, subtract)
from trine.layers.merging_extra import Dot, dot
from trine.layers.normalization import (BatchNormalization, GroupNormalization, LayerNormalization,
                                        UnitNormalization)
from trine.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                  GlobalAveragePooling1D, GlobalAveragePooling2D,
                                  GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                  GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from trine.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization,
                                        HashedCrossing, Hashing,
                                        IntegerLookup, Normalization, RandomContrast, RandomFlip,
                                        RandomRotation, RandomTranslation, RandomZoom, Rescaling,
                                        Resizing, StringLookup, TextVectorization)
from trine.layers.reversible_embedding import ReversibleEmbedding
from trine.layers.rms_normalization import RMSNormalization
from trine.layers.serialization import deserialize, serialize
from trine.layers.wrappers import SpectralNormalization, Wrapper
from trine.layers.recurrent import (GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN,
                                    SimpleRNNCell, StackedRNNCells, TimeDistributed)
from trine.layers.regularization import (ActivityRegularization, AlphaDropout, GaussianDropout,
                                         GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                         SpatialDropout3D)
from trine.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                                    UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                                    ZeroPadding2D, ZeroPadding3D)

# Keras's aliases
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D

__all__ = [
    "AutoContrast", "Pipeline", "RandomBrightness", "RandomColorDegeneration", "RandomCrop",
    "RandomGrayscale", "RandomInvert", "RandomPosterization", "Solarization",
    "CutMix", "Equalization", "MaxNumBoundingBoxes", "MixUp", "RandAugment", "RandomColorJitter",
    "RandomErasing", "RandomGaussianBlur", "RandomHue", "RandomPerspective", "RandomSaturation",
    "RandomSharpness", "RandomShear",
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "EinsumDense",
    "GroupQueryAttention", "ReversibleEmbedding", "RMSNormalization", "SpectralNormalization",
    "STFTSpectrogram", "FlaxLayer", "JaxLayer", "TorchModuleWrapper", "TFSMLayer", "ContrastLimitedAdaptiveHistogramEqualization",
    "RandomElasticTransform", "AugMix",
    "Wrapper", "serialize", "deserialize", "GlobalMaxPool3D", "GlobalAvgPool3D",
    "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
    "SeparableConvolution1D", "SeparableConvolution2D",
    "ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax",
    "Activation", "ActivityRegularization", "Add", "AdditiveAttention", "AlphaDropout",
    "Attention", "Average", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNormalization", "Bidirectional",
    "CategoryEncoding", "CenterCrop", "Concatenate", "Conv1D", "Conv1DTranspose", "Conv2D",
    "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    "Convolution1D", "Convolution2D",
    "Convolution3D", "Cropping1D", "Cropping2D", "Cropping3D", "Dense", "DepthwiseConv1D",
    "DepthwiseConv2D", "Discretization", "Dot", "Dropout", "Embedding", "Flatten", "GRU",
    "GRUCell", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "GroupNormalization", "HashedCrossing", "Hashing", "Identity", "Input",
    "InputLayer",
    "InputSpec", "IntegerLookup", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization",
    "Masking", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "Maximum", "MelSpectrogram", "Minimum", "MultiHeadAttention", "Multiply",
    "Normalization",
    "Permute", "RNN", "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation",
    "RandomZoom", "RepeatVector", "Rescaling", "Reshape", "Resizing", "SeparableConv1D",
    "SeparableConv2D", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "StringLookup",
    "Subtract", "TextVectorization", "TimeDistributed", "UnitNormalization", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "add",
    "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]
