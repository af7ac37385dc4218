"""Network inversion: feature-map statistics, inverting networks, pre-images and learned image priors."""
