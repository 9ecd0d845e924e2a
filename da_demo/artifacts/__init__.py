"""Checkpoints (safetensors + JSON metadata), the manifest and the results table."""
