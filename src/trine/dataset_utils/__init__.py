"""Dataset utilities of `keras.utils` (re-exported from `trine.utils`): folders of images,
texts and audio as PyDatasets, time-series windows, dataset splitting, image files, and
`get_file` downloads into the trine cache. Pillow is imported only by the image functions."""
