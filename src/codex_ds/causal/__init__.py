"""codex_ds.causal."""
