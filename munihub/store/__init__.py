"""The consolidated store: its tables, opening it (migrated), row helpers, the
commit-ordered marks resolution reads, and the hash-chained audit log.

SQLite by default, PostgreSQL in production; the same code and tests run on both.  Every
wing reads and writes through the names below; only this wing knows how an engine is opened.
"""
from __future__ import annotations

from munihub.store.engines import async_commit, create_engine, engine_for, forget_engines, open_store
from munihub.store.rows import (bulk_copy, bulk_delete, bulk_insert, bulk_rekey, chunks, copy_text, encode_json, key_clauses,
                                plain_copy_text, record_hash, staged_copy_binary)
from munihub.store.stats import keep_statistics, reclaim
from munihub.store.tables import (JSON, agencies, agency_tokens, audit_log, cursors, earlier_copies, entities, entity_members,
                                  grants, indicator_calendar, indicator_fact_days,
                                  indicator_facts, indicator_group_members, indicator_request_groups,
                                  indicator_runs,
                                  indicator_values, leases, loads, match_decisions, match_features, match_keys,
                                  match_models, metadata, push_deliveries, quarantine, resolution_runs,
                                  retired_rows, review_queue, set_aside, source_identity, source_rows, staged_rows,
                                  workbench_sessions, workbench_users)

__all__ = [
    "open_store", "create_engine", "engine_for", "forget_engines", "async_commit",
    "record_hash", "encode_json", "bulk_insert", "bulk_copy", "copy_text", "plain_copy_text", "staged_copy_binary", "bulk_delete", "bulk_rekey", "chunks", "key_clauses", "keep_statistics", "reclaim",
    "JSON", "metadata", "loads", "cursors", "staged_rows", "quarantine", "set_aside", "source_rows", "source_identity",
    "retired_rows", "earlier_copies", "entities", "entity_members", "match_decisions", "review_queue", "audit_log", "leases", "match_features",
    "match_models", "match_keys", "resolution_runs", "agencies", "agency_tokens", "grants", "push_deliveries",
    "indicator_values", "indicator_runs", "indicator_calendar", "indicator_request_groups",
    "indicator_group_members", "indicator_facts", "indicator_fact_days",
    "workbench_users", "workbench_sessions",
]
