"""``python -m codex_ds`` runs the command-line interface."""

from codex_ds.cli.main import run

if __name__ == "__main__":
    run()
