"""The great-expectations edge: validate a load's frame and, if asked, keep its Data Docs.

Only this module imports great-expectations, lazily (~1.3 s CPU; see `gx`).  Without a
docs folder the validation runs in an ephemeral context; with one, each dataset gets its
own file-backed context under `<docs folder>`, so every earlier validation stays in its
store and the site still lists it (an ephemeral site forgets earlier runs).  Each load's
build is incremental (`munihub.ingest.quality_views.build_docs`): this run's page, the suite's page
and the index are rendered; earlier runs' pages stay as they were written.
"""
from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
from pathlib import Path
from typing import Any

# GE reads its analytics switch at import; its loggers say ~100 lines per validation at INFO.
QUIET_LOGGERS = ("great_expectations", "great_expectations.core", "great_expectations.data_context",
                 "great_expectations.datasource", "great_expectations.validator",
                 "great_expectations.expectations", "great_expectations.render")
# Validators read context.progress_bars; without {"globally": False} every validation draws
# "Calculating Metrics" bars on stderr (GE 1.24 validator._determine_progress_bars).
NO_PROGRESS_BARS = {"globally": False, "metric_calculations": False}
_GX_LOCK = threading.Lock()
# great-expectations imports these at import time for expectations munihub never builds (KL
# divergence, KS tests) and their charts: about a third of its import, paid by every
# check_load task.  They stay stand-ins until an attribute is read (`_Deferred`).
DEFERRED = ("altair", "scipy.stats")
_DEFER_LOCK = threading.RLock()
SITE_INDEX = Path("gx") / "uncommitted" / "data_docs" / "local_site" / "index.html"
CONFIG_VARIABLES = Path("gx") / "uncommitted" / "config_variables.yml"


class _Deferred(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is read, then imports it.

    `import x` and `from pkg import x` bind the stand-in without running x; the first
    attribute it lacks (anything but its name and spec) imports the real module in its place
    and every later read is forwarded to that.
    """

    def __getattr__(self, attr: str):
        return getattr(_real(self), attr)


def _real(stand_in: types.ModuleType) -> types.ModuleType:
    name = stand_in.__name__
    with _DEFER_LOCK:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
            importlib.import_module(name)
        return sys.modules[name]


def _defer(name: str) -> None:
    """Put a `_Deferred` stand-in for `name` in sys.modules, unless it is imported or missing."""
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)  # imports the parent package (scipy: cheap)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = None  # the import system reads it: "not initializing", nothing to load
    sys.modules[name] = stand_in


def gx():
    """The great_expectations module, imported once, quiet; ConfigError with a hint if missing."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" not in sys.modules:
        for name in DEFERRED:
            _defer(name)
        for name in QUIET_LOGGERS:  # quiet before the import too: its decorators log at INFO as they load
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import great_expectations
    except ImportError as exc:  # pragma: no cover - depends on the install
        from munihub.errors import ConfigError
        raise ConfigError("great-expectations is not installed",
                          hint="pip install 'munihub[quality]'") from exc
    # Some GE modules set their own logger to INFO at import (data_context/types/base.py), so
    # lowering the parent is not enough: every GE logger that exists by now is lowered.  Only
    # the ones not lowered yet: each setLevel clears every logger's cache, and a load calls
    # this several times.
    names = set(QUIET_LOGGERS) | {n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")}
    for name in names:
        logger = logging.getLogger(name)
        if logger.level != logging.WARNING:
            logger.setLevel(logging.WARNING)
    return great_expectations


def _context(docs_dir: Path | None):
    g = gx()
    if docs_dir is None:
        context = g.get_context(mode="ephemeral")
    else:
        docs_dir.mkdir(parents=True, exist_ok=True)
        context = g.get_context(mode="file", project_root_dir=str(docs_dir))
        _drop_template_variables(docs_dir)
    context.variables.progress_bars = dict(NO_PROGRESS_BARS)
    return context


def _drop_template_variables(docs_dir: Path) -> None:
    """Remove GE's scaffolded config_variables.yml while it is only the template.

    A file context parses that file again for every config value it reads (~50 times per
    load, ~13 ms); munihub never puts variables there, and GE treats a missing file as none.
    A file someone filled in is kept.
    """
    path = docs_dir / CONFIG_VARIABLES
    try:
        lines = [line for line in path.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]
    except OSError:
        return
    if all(line.startswith("instance_id:") for line in lines):  # GE's analytics id (analytics are off)
        path.unlink(missing_ok=True)


def _asset(context, name: str):
    """The pandas dataframe asset of this dataset, created on first use (a file context keeps it)."""
    try:
        source = context.data_sources.get("munihub")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas("munihub")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole")


def validate(frame, expectations: list, *, dataset: str = "load", docs_dir: Path | str | None = None
             ) -> tuple[list, str | None]:
    """Run `expectations` on `frame`: (GE results in order, Data Docs index path or None).

    `expectations` are built with `gx().expectations`.  With `docs_dir`, the results are
    stored in that folder's file context and rendered into its local site.
    """
    with _GX_LOCK:  # GE keeps process-wide state: concurrent validations in threads trample each other
        return _validate(frame, expectations, dataset, Path(docs_dir) if docs_dir else None)


def _validate(frame, expectations: list, dataset: str, docs: Path | None) -> tuple[list, str | None]:
    g = gx()
    context = _context(docs)
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in dataset) or "load"
    batch_def = _asset(context, name)
    suite = g.ExpectationSuite(name=name)
    for exp in expectations:
        suite.add_expectation(exp)
    # One path for both: a validation definition reads the batch once (batch.validate fingerprints
    # the frame twice), and in a file context it also stores the result for the docs.
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        g.ValidationDefinition(name=name, data=batch_def, suite=suite))
    run_id = g.core.run_identifier.RunIdentifier(run_time=dt.datetime.now(dt.timezone.utc))
    run = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY", run_id=run_id)
    if docs is None:
        return list(run.results), None
    from munihub.ingest.quality_views import build_docs  # imports GE's renderers: only when docs are kept
    build_docs(context, name, run_id)
    index = docs / SITE_INDEX
    return list(run.results), str(index) if index.is_file() else None


def result_key(result) -> Any:
    """The `meta["munihub"]` tag its expectation was built with: how a result finds its check."""
    return (result.expectation_config.meta or {}).get("munihub")
