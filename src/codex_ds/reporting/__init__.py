"""codex_ds.reporting."""
