"""Embedders: one protocol, a registry chosen by `Settings.embedder`, one module per backend."""
