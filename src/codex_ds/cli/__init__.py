"""codex_ds.cli."""
