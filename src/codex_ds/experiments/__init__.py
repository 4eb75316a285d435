"""codex_ds.experiments."""
