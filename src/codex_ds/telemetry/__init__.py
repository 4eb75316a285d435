"""codex_ds.telemetry."""
