"""Training: the trainer, data adapters, callbacks and the progress bar."""
