"""codex_ds.evaluation.tasks."""
