"""The report's plain tables, markdown and HTML: one header row, then rows of text cells.

Every section (tuning, theory, device cost) lays its own table out the same way, so they share
this one writer instead of each keeping its own copy.
"""

from __future__ import annotations

import html
from collections.abc import Sequence


def md_table(
    head: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int | None = None
) -> str:
    """A markdown table; the first ``text_columns`` columns left-aligned and the rest right
    (numbers), every column left-aligned where it is None."""
    if text_columns is None:
        align = "|" + "---|" * len(head)
    else:
        align = "|" + "---|" * text_columns + "---:|" * (len(head) - text_columns)
    lines = ["| " + " | ".join(head) + " |", align]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]], css: str) -> str:
    """An HTML table of class ``css``, every cell escaped."""
    top = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table class='{css}'><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"
