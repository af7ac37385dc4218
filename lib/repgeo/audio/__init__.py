"""Audio: speech synthesis with phone boundaries (:mod:`.espeak`), WaveGAN with the ciwGAN/fiwGAN
Q-network (:mod:`.wavegan`, :mod:`.gan`), the supervised reference CNN (:mod:`.reference_cnn`),
Q-code evaluation and sample sheets (:mod:`.evaluation`), channel-averaged layer activations
(:mod:`.layers`) and figures (:mod:`.figures`)."""
