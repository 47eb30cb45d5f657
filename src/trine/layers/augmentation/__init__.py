"""Image augmentation layers (Keras 3's image preprocessing layers beyond the first set)."""
from trine.layers.augmentation.aug_mix import AugMix
from trine.layers.augmentation.bounding_boxes import MaxNumBoundingBoxes
from trine.layers.augmentation.clahe import ContrastLimitedAdaptiveHistogramEqualization
from trine.layers.augmentation.color import (AutoContrast, RandomBrightness,
                                             RandomColorDegeneration, RandomGrayscale,
                                             RandomInvert, RandomPosterization, Solarization)
from trine.layers.augmentation.crop import RandomCrop
from trine.layers.augmentation.elastic import RandomElasticTransform
from trine.layers.augmentation.filters import Equalization, RandomGaussianBlur, RandomSharpness
from trine.layers.augmentation.geometric import RandomErasing, RandomPerspective, RandomShear
from trine.layers.augmentation.hsv import RandomColorJitter, RandomHue, RandomSaturation
from trine.layers.augmentation.mixing import CutMix, MixUp
from trine.layers.augmentation.pipeline import Pipeline
from trine.layers.augmentation.rand_augment import RandAugment

__all__ = ["AugMix", "AutoContrast", "ContrastLimitedAdaptiveHistogramEqualization", "CutMix",
           "Equalization", "MaxNumBoundingBoxes", "MixUp", "Pipeline",
           "RandAugment", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter",
           "RandomCrop", "RandomElasticTransform", "RandomErasing", "RandomGaussianBlur",
           "RandomGrayscale", "RandomHue",
           "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomSaturation",
           "RandomSharpness", "RandomShear", "Solarization"]
