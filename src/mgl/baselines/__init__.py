"""Baselines, one per module, on the same encoder, splits and validation data as MGL."""
