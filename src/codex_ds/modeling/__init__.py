"""codex_ds.modeling."""
