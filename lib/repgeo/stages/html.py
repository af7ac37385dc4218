"""HTML renderings of tables for the Snakemake report (parquet is not displayed there)."""

from __future__ import annotations

import html

import pandas as pd


def html_table(df: pd.DataFrame, caption: str) -> str:
    return f"<h3>{html.escape(caption)}</h3>\n" + df.to_html(index=False, float_format=lambda v: f"{v:.6g}", border=0)


def html_page(title: str, body: str) -> str:
    style = "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse} td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>\n{body}\n</body></html>\n"
