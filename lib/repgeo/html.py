"""The one HTML renderer of the report's tables (the Snakemake report does not display parquet).

Every branch renders its tables with :func:`html_table` and wraps them with :func:`html_page`, so
the report's pages share one style and one number format.
"""

from __future__ import annotations

import html

import pandas as pd

_STYLE = (
    "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse}"
    " td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right} tr:nth-child(even){background:#f7f7f7}"
)


def html_table(df: pd.DataFrame, caption: str | None = None, *, index: bool = False, digits: int = 6) -> str:
    """``df`` as an HTML table under an ``<h3>`` caption; floats with ``digits`` significant digits."""
    head = f"<h3>{html.escape(caption)}</h3>\n" if caption else ""
    return head + df.to_html(index=index, float_format=lambda v: f"{v:.{digits}g}", border=0)


def html_page(title: str, body: str, note: str | None = None) -> str:
    """A self-contained page: ``title`` as heading, an optional ``note`` paragraph, then ``body``."""
    intro = f"<h2>{html.escape(title)}</h2>\n" + (f"<p>{html.escape(note)}</p>\n" if note else "")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n{intro}{body}\n</body></html>\n"
    )
