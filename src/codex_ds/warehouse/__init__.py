"""codex_ds.warehouse."""
