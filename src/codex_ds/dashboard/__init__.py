"""codex_ds.dashboard."""
