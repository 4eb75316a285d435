"""codex_ds.dashboard.pages."""
