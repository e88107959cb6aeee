"""great-expectations' Data Docs, built per load: incrementally, with compiled templates cached.

GE's `build_data_docs` re-renders every stored validation (a cost that grows with each load)
and gives every view of every build a fresh jinja environment, so each load compiled the same
~50 package templates again (~145 ms of a ~170 ms build).  `build_docs` renders only this
run's validation page, its suite's page and the index (earlier pages stay as they are), with
GE's own views whose environments share jinja's bytecode cache (a private per-user folder in
the temp directory, checked by jinja, keyed by each template's source checksum); GE's static
files are copied once per GE version instead of on every build.  Nothing in what is
rendered changes.  This module imports great-expectations at import time: only
`munihub.ingest.quality_docs` imports it, after GE is loaded, and GE imports the views by name.
"""
from __future__ import annotations

import copy
from pathlib import Path

from great_expectations import __version__ as gx_version
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
from great_expectations.data_context.util import instantiate_class_from_config
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache

SECTIONS = ("expectations", "validations", "profiling")


def _template_cache() -> FileSystemBytecodeCache | None:
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no usable private temp folder: compile per build, as GE does
        return None


TEMPLATE_CACHE = _template_cache()


class PageView(DefaultJinjaPageView):
    """GE's page view (expectation suites, validation results) with cached templates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATE_CACHE


class IndexPageView(DefaultJinjaIndexPageView):
    """GE's site index view with cached templates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = TEMPLATE_CACHE


def site_config(config: dict) -> dict:
    """A copy of a Data Docs site config whose index and section views are the ones above."""
    config = copy.deepcopy(config)
    view = {"module_name": __name__}
    config["site_index_builder"] = {**(config.get("site_index_builder") or {}),
                                    "view": {**view, "class_name": IndexPageView.__name__}}
    sections = config.get("site_section_builders") or {}
    config["site_section_builders"] = {
        # a section switched off ("None", False, ...) stays off
        name: {**(sections.get(name) or {}), "view": {**view, "class_name": PageView.__name__}}
        if isinstance(sections.get(name) or {}, dict) else sections[name]
        for name in SECTIONS}
    return config


def build_docs(context, suite_name: str, run_id) -> None:
    """Render the run `run_id` of suite `suite_name` into every Data Docs site of `context`."""
    mine = [key for key in context.validation_results_store.list_keys() if key.run_id == run_id]
    wanted = [*mine, ExpectationSuiteIdentifier(name=suite_name)]
    for site_name, config in (context.variables.data_docs_sites or {}).items():
        # what context.build_data_docs does for each site, with the views swapped
        site = instantiate_class_from_config(
            config=site_config(config),
            runtime_environment={"data_context": context, "root_directory": context.root_directory,
                                 "site_name": site_name},
            config_defaults={"class_name": "SiteBuilder",
                             "module_name": "great_expectations.render.renderer.site_builder"})
        # SiteBuilder.build, except that GE's static files (4 MB of fonts, images and styles)
        # are copied once per GE version instead of on every build
        for section in site.site_section_builders.values():
            section.build(resource_identifiers=wanted)
        _copy_static_assets(site, _site_folder(context, config))
        site.site_index_builder.build()


def _site_folder(context, config: dict) -> Path | None:
    backend = config.get("store_backend") or {}
    if backend.get("class_name") != "TupleFilesystemStoreBackend" or not backend.get("base_directory"):
        return None
    return Path(context.root_directory or ".") / backend["base_directory"]


def _copy_static_assets(site, folder: Path | None) -> None:
    stamp = folder / "static" / ".munihub-gx-version" if folder else None
    if stamp is not None and stamp.is_file() and stamp.read_text("utf-8") == gx_version:
        return
    site.target_store.copy_static_assets()
    if stamp is not None:
        stamp.write_text(gx_version, "utf-8")
