"""Training runner pieces: checkpoints, metric logging, evaluation, run configuration."""
