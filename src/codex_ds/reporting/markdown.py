"""Small Markdown writers shared by every report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def md_escape(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table.

    >>> print(md_table(["a", "b"], [(1, "x|y")]))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    head = "| " + " | ".join(md_escape(h) for h in headers) + " |"
    sep = "|" + "|".join("---" for _ in headers) + "|"
    body = ["| " + " | ".join(md_escape(v) for v in r) + " |" for r in rows]
    return "\n".join([head, sep, *body])
