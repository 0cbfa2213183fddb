"""Plans of the tofu layers, pure: the model, reading `tofu show -json`, masking and
fingerprints. Rendering them as the pull-request comment is `freetier.comment`; planning,
applying and deploying them (tofu, GitHub) is `freetier.review`."""
