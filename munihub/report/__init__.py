"""Reports for people: the stewards' report (figures in `build`, HTML in `render`), the
contract catalog (`catalog`) and per-source status (`status`).  Personal values are masked
by `munihub.masking` before anything is rendered."""
from __future__ import annotations

from munihub.report.build import gather, headline, write_report

__all__ = ["gather", "headline", "write_report"]
