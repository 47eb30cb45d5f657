"""Image augmentation layers (Keras 3's image preprocessing layers beyond the first set)."""
from trine.layers.augmentation.color import (AutoContrast, RandomBrightness, RandomGrayscale,
                                             RandomInvert, RandomPosterization, Solarization)
from trine.layers.augmentation.crop import RandomCrop
from trine.layers.augmentation.pipeline import Pipeline

__all__ = ["AutoContrast", "Pipeline", "RandomBrightness", "RandomCrop", "RandomGrayscale",
           "RandomInvert", "RandomPosterization", "Solarization"]
