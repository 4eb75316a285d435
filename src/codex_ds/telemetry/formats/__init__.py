"""codex_ds.telemetry.formats."""
