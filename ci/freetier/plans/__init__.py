"""Plans of the tofu layers: the model, masking, fingerprints and the PR comment."""
