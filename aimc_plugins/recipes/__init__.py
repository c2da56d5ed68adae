"""Training recipes: each a network, a dataset and a loop, registered by a built-in plugin."""
