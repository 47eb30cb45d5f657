"""Image augmentation layers (Keras 3's image preprocessing layers beyond the first set)."""
from trine.layers.augmentation.color import (AutoContrast, RandomBrightness,
                                             RandomColorDegeneration, RandomGrayscale,
                                             RandomInvert, RandomPosterization, Solarization)
from trine.layers.augmentation.crop import RandomCrop
from trine.layers.augmentation.pipeline import Pipeline

__all__ = ["AutoContrast", "Pipeline", "RandomBrightness", "RandomColorDegeneration",
           "RandomCrop", "RandomGrayscale", "RandomInvert", "RandomPosterization", "Solarization"]
