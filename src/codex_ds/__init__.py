"""Codex DS: the measurement workbench for AI coding-assistant teams."""

__version__ = "0.1.0"
