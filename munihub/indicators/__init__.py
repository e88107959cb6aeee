"""Indicators for city managers: what the consolidated data says about services, follow-ups,
inter-agency work, the operational plan's targets and the systems themselves.

`define` loads and checks definition files (YAML under `indicators/`, every problem at once
with file:line); `facts` are the relations they are computed over (SQL built from the store);
`groups` keeps the 137 request groups in the store, regrouping only what changed; `compute`
aggregates the facts on SQLite and PostgreSQL; `refresh` keeps `indicator_values` up to
date, recomputing only the Jalali periods that changed; `read` gives figures as managers see them (small counts
suppressed, trend, on track) and as CSV or Parquet; `calendar` maps days to Jalali periods.
"""
from __future__ import annotations

from munihub.indicators.compute import figures
from munihub.indicators.define import Definition, IndicatorError, find, load_all, load_definition
from munihub.indicators.read import chart, export, family_page, to_csv, values
from munihub.indicators.refresh import refresh, refresh_folder

__all__ = ["Definition", "IndicatorError", "load_definition", "load_all", "find", "figures", "refresh", "refresh_folder",
           "values", "chart", "family_page", "to_csv", "export"]
