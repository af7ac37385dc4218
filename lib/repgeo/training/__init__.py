"""Model training with per-epoch tracking (classifiers for the entropy branch)."""
