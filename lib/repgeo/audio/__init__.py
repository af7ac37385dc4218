"""Audio: speech synthesis with phone boundaries (:mod:`.espeak`)."""
