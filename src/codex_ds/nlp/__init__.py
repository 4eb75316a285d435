"""codex_ds.nlp."""
