"""The host's own features, written as plugins on the same hooks third parties use."""
