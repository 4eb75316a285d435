"""codex_ds.evaluation."""
