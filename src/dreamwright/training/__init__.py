"""Training: configuration and presets, batches, the trainer loop, evaluation and checkpoint I/O."""
