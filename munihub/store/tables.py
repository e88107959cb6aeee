"""The consolidated store's tables (SQLAlchemy Core: plain rows, no ORM session state).

Their history lives in `munihub/store/migrations/` (Alembic), applied by `open_store`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
metadata = sa.MetaData()


def _ts(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


# The load ledger: a load is complete only when its row says `published`.
loads = sa.Table(
    "loads", metadata,
    sa.Column("load_id", sa.String(40), primary_key=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("contract_version", sa.String(40)),
    sa.Column("status", sa.String(20), nullable=False),  # extracting|staged|held|published|failed|abandoned|skipped
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    sa.Column("interval_start", sa.String(40)),
    sa.Column("interval_end", sa.String(40)),
    sa.Column("rows_in", sa.Integer, default=0),
    sa.Column("rows_new", sa.Integer, default=0),
    sa.Column("rows_changed", sa.Integer, default=0),
    sa.Column("rows_unchanged", sa.Integer, default=0),
    sa.Column("rows_quarantined", sa.Integer, default=0),
    sa.Column("cursor_before", JSON),
    sa.Column("cursor_version", sa.Integer),  # cursors.version read at extract time
    sa.Column("cursor_after", JSON),
    sa.Column("checks", JSON),
    sa.Column("error", sa.Text),
    # field -> values set aside (published without that value), migration 0006
    sa.Column("values_set_aside", JSON),
    # rows published under the source's former record identity, moved by this load (migration 0009)
    sa.Column("rows_rekeyed", sa.Integer),
    sa.Column("rows_retired", sa.Integer),
    # what the dataset checks read of the load's staged rows, counted while staging: rows, each
    # field's nulls, the key field's object values (`stage._profile`, migration 0012)
    sa.Column("staged_profile", JSON),
    # earlier copies of re-used record ids this load kept for matching, and kept copies it
    # dropped because it published their key again without them (migration 0014)
    sa.Column("copies_kept", sa.Integer),
    sa.Column("copies_dropped", sa.Integer),
)

# One row per source: where the next incremental read starts.  `version` makes publish an
# optimistic compare-and-set, so two concurrent runs of one source publish once.
cursors = sa.Table(
    "cursors", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("cursor", JSON),
    sa.Column("version", sa.Integer, nullable=False, default=0),
    sa.Column("load_id", sa.String(40)),
    _ts("updated_at"),
)

staged_rows = sa.Table(
    "staged_rows", metadata,
    sa.Column("load_id", sa.String(40), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("source_key", sa.String(500), nullable=False),
    sa.Column("record", JSON, nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("position", sa.String(500)),
    # The record's key under the source's former identity, staged only while rows keyed that
    # way remain (munihub.ingest.identity, migration 0009).
    sa.Column("former_key", sa.String(500)),
)

quarantine = sa.Table(
    "quarantine", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("load_id", sa.String(40), nullable=False, index=True),
    sa.Column("position", sa.String(500)),
    sa.Column("source_key", sa.String(500)),
    sa.Column("raw", JSON, nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, default="open"),  # open|replayed|dismissed
    sa.Column("decided_by", sa.String(200)),
    _ts("decided_at"),
    sa.Column("note", sa.Text),
    sa.Column("replay_load_id", sa.String(40)),
)

# A value kept out of a published record because its field could not be read (bad check
# digit, unparseable date, a second landline): the record is published without it; the raw
# value and the reason wait here for stewards, like quarantined records (migration 0006).
set_aside = sa.Table(
    "set_aside", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("load_id", sa.String(40), nullable=False, index=True),
    sa.Column("position", sa.String(500)),
    # Indexed with its source (migration 0015): a publish looks up the entries of the keys it
    # read again (`quarantine.close_set_aside_reread`), without scanning a whole load's.
    sa.Column("source_key", sa.String(500), nullable=False),
    sa.Column("field", sa.String(200), nullable=False),
    sa.Column("source_field", sa.String(500)),
    sa.Column("value", JSON),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("reason", JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, default="open"),  # open|replayed|dismissed|superseded
    sa.Column("decided_by", sa.String(200)),
    _ts("decided_at"),
    sa.Column("note", sa.Text),
    sa.Index("ix_set_aside_key", "source", "source_key", "load_id"),
)

source_rows = sa.Table(
    "source_rows", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("entity_type", sa.String(60), nullable=False, index=True),
    sa.Column("record", JSON, nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("first_load_id", sa.String(40), nullable=False),
    # Not indexed (migration 0013): every published row paid for the index, and nothing read it.
    sa.Column("load_id", sa.String(40), nullable=False),
    # Indexed: each resolution run reads the rows published since its last mark and the
    # newest mark (migration 0005); without it both scan every published row.
    _ts("updated_at", nullable=False, index=True),
    # The identity the key was made by (`recordId:licence_no`, `primaryKey:national_id`);
    # NULL for rows published before the store recorded it (migration 0009).
    sa.Column("keyed_by", sa.String(500)),
)

# Which identity keys each source's rows now, and the former one while rows keyed by it
# remain: a contract that starts naming (or changes) its recordId moves those rows at the
# publishes that read their records again (munihub.ingest.identity, migration 0009).
source_identity = sa.Table(
    "source_identity", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("identity", JSON, nullable=False),   # {"by": "recordId"|"primaryKey", "fields": [...]}
    sa.Column("former", JSON),
    sa.Column("former_rows", sa.Integer, nullable=False, default=0),
    sa.Column("load_id", sa.String(40)),
    _ts("updated_at", nullable=False),
)

# A published row taken out of source_rows, kept whole with its lineage: its record was
# published again under the new identity beside a row that already holds it, or under
# several record ids at once (records a shared key had merged), so no single row inherits it.
retired_rows = sa.Table(
    "retired_rows", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("retired_load_id", sa.String(40), primary_key=True),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("record", JSON, nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("first_load_id", sa.String(40), nullable=False),
    sa.Column("load_id", sa.String(40), nullable=False),
    sa.Column("keyed_by", sa.String(500)),
    sa.Column("replaced_by", JSON, nullable=False),   # the keys its record now lives under
    sa.Column("reason", sa.String(200), nullable=False),
    _ts("retired_at", nullable=False),
)

# The earlier copies of a key a load repeated with other values (a permit case passed to a
# new owner, a re-used client id): the load publishes only the key's last copy, and the
# citizens of the others are kept here for person matching alone, never served or counted as
# rows (munihub.ingest.publish, migration 0014).  A copy is named by its content hash, so a
# re-read of the same file keeps its copies however its rows moved; the load that publishes
# the key again replaces them.
earlier_copies = sa.Table(
    "earlier_copies", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("record_hash", sa.String(64), primary_key=True),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("record", JSON, nullable=False),
    sa.Column("position", sa.String(500)),
    sa.Column("load_id", sa.String(40), nullable=False),
    _ts("updated_at", nullable=False, index=True),
)

entities = sa.Table(
    "entities", metadata,
    sa.Column("entity_id", sa.String(40), primary_key=True),
    sa.Column("entity_type", sa.String(60), nullable=False, index=True),
    sa.Column("golden", JSON, nullable=False),
    sa.Column("lineage", JSON, nullable=False),
    sa.Column("member_count", sa.Integer, nullable=False),
    _ts("updated_at", nullable=False),
)

entity_members = sa.Table(
    "entity_members", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("entity_id", sa.String(40), nullable=False, index=True),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("rule", sa.String(60)),
    sa.Column("score", sa.Float),
    sa.Column("load_id", sa.String(40)),
    # Indexed (migration 0010): indicator refreshes read the newest mark and the person
    # mentions reassigned since their last one; both scanned every member without it.
    _ts("assigned_at", nullable=False, index=True),
)

# Steward decisions on pairs: applied on every run and never overridden by the matcher.
match_decisions = sa.Table(
    "match_decisions", metadata,
    sa.Column("left_ref", sa.String(700), primary_key=True),
    sa.Column("right_ref", sa.String(700), primary_key=True),
    sa.Column("decision", sa.String(20), nullable=False),  # match|no-match
    sa.Column("decided_by", sa.String(200), nullable=False),
    _ts("decided_at", nullable=False),
    sa.Column("note", sa.Text),
)

review_queue = sa.Table(
    "review_queue", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity_type", sa.String(60), nullable=False),
    sa.Column("left_ref", sa.String(700), nullable=False),
    sa.Column("right_ref", sa.String(700), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, default="open"),  # open|decided
    _ts("created_at", nullable=False),
    sa.UniqueConstraint("left_ref", "right_ref", name="uq_review_pair"),
)

# Append-only and hash-chained: each row's hash covers the previous row's hash.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    _ts("ts", nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(500)),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("detail", JSON),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Who is running a source right now; a second run exits early instead of racing.
leases = sa.Table(
    "leases", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    _ts("acquired_at", nullable=False),
    _ts("expires_at", nullable=False),
)


# ---------------------------------------------------------------- entity resolution state
# Owned by munihub.resolve.run (issue 6); created by migration 0003_resolution.

# Comparison features of every match record (ref = "source|key", "#person" for a mention),
# so an incremental run rebuilds the blocking index without normalizing a million rows.
match_features = sa.Table(
    "match_features", metadata,
    sa.Column("ref", sa.String(700), primary_key=True),
    sa.Column("entity_type", sa.String(60), nullable=False, index=True),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("features", JSON, nullable=False),
)

# The Fellegi-Sunter model per entity type: incremental runs score with it, a full run
# reuses it unless asked to retrain, so both give the same probabilities.
match_models = sa.Table(
    "match_models", metadata,
    sa.Column("entity_type", sa.String(60), primary_key=True),
    sa.Column("model", JSON, nullable=False),
    sa.Column("trained", sa.Boolean, nullable=False),
    _ts("trained_at", nullable=False),
)

# The blocking index of every match record, kept in the store (munihub.resolve.blocking):
# one row per (key, ref), where key hashes a blocking key (entity type, rule, values) or a
# counted feature value.  An incremental run reads only the blocks its new records fall in,
# so its cost follows the change, not the million rows already resolved.  WITHOUT ROWID on
# SQLite: the primary key is the table, stored once.
match_keys = sa.Table(
    "match_keys", metadata,
    sa.Column("key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ref", sa.String(700), primary_key=True),
    sqlite_with_rowid=False,
)

# One row per resolution run; the newest finished one is the mark the next run starts from.
resolution_runs = sa.Table(
    "resolution_runs", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mode", sa.String(20), nullable=False),  # full|incremental
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    _ts("source_mark"),     # max(source_rows.updated_at) seen by the run
    _ts("decision_mark"),   # max(match_decisions.decided_at) seen by the run
    sa.Column("summary", JSON),
)


# ---------------------------------------------------------------- data-exchange gateway
# Owned by munihub.gateway.grants / munihub.gateway.api (issue 8); created by migration 0002_gateway.

# An agency that calls the gateway; `page_cap` and `rate_per_minute` override the defaults.
agencies = sa.Table(
    "agencies", metadata,
    sa.Column("agency_id", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("page_cap", sa.Integer),
    sa.Column("rate_per_minute", sa.Integer),
    _ts("created_at", nullable=False),
)

# Only the sha256 of a token is kept: the token itself is shown once, when issued.
agency_tokens = sa.Table(
    "agency_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agency_id", sa.String(100), nullable=False, index=True),
    _ts("created_at", nullable=False),
    _ts("revoked_at"),
)

# What an agency may read: one row per dataset (`entity:<type>` for golden records) with the
# granted field names (`["*"]` = every field, personal ones pseudonymized unless listed).
grants = sa.Table(
    "grants", metadata,
    sa.Column("agency_id", sa.String(100), primary_key=True),
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("fields", JSON, nullable=False),
    sa.Column("can_push", sa.Boolean, nullable=False, default=False),
    sa.Column("granted_by", sa.String(200), nullable=False),
    _ts("granted_at", nullable=False),
)

# Pushed deliveries by idempotency key: the same key with the same body answers the same.
push_deliveries = sa.Table(
    "push_deliveries", metadata,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("agency_id", sa.String(100), primary_key=True),
    sa.Column("idempotency_key", sa.String(128), primary_key=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("delivery_id", sa.String(240), nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    _ts("received_at", nullable=False),
)


# ---------------------------------------------------------------- indicators for city managers
# Owned by munihub.indicators (issue 20); created by migration 0008_indicators.

# One figure per indicator, period and cell (the values of its other dimensions, as canonical
# JSON).  Periods are Jalali (`1403-07`, `1403-W05`, `1403-Q1`) or the Jalali month a snapshot
# was taken in, so a month's figure stays beside the previous one.  `citizens` is how many
# distinct citizens the cell counts: what small-count suppression reads.
indicator_values = sa.Table(
    "indicator_values", metadata,
    sa.Column("indicator_id", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(20), primary_key=True),
    sa.Column("cell", sa.String(700), primary_key=True),
    sa.Column("dims", JSON, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("numerator", sa.Float),
    sa.Column("denominator", sa.Float),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("citizens", sa.Integer),
    sa.Column("target", sa.Float),
    _ts("computed_at", nullable=False),
)

# One row per indicator computation: its definition's hash (a changed definition is computed
# from scratch), the store marks it saw (the next refresh reads what changed since) and
# which periods it refreshed.
indicator_runs = sa.Table(
    "indicator_runs", metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("indicator_id", sa.String(200), nullable=False, index=True),
    sa.Column("definition_hash", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),  # full|incremental
    _ts("source_mark"),
    _ts("member_mark"),
    _ts("computed_at", nullable=False),
    sa.Column("periods", JSON),
    sa.Column("seconds", sa.Float),
    # the version of the maintained fact it read (indicator_facts; migration 0010)
    sa.Column("fact_version", sa.Integer),
)

# Gregorian day -> Jalali month and week, so SQL on any engine groups by Jalali periods
# with a join instead of calendar arithmetic; filled for the days the data spans.
indicator_calendar = sa.Table(
    "indicator_calendar", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("week", sa.String(8), nullable=False),
)

# The request groups indicators read, kept in the store and maintained incrementally
# (migration 0010): one row per 137 request group, its follow-ups folded in, with the Jalali
# month and week it counts in.  A refresh recomputes only the groups its changed requests
# touch (and the repeat chains of their citizens), instead of regrouping a million requests.
# Unlogged on PostgreSQL (0010): derived data, rebuilt when a crash has emptied it.
indicator_request_groups = sa.Table(
    "indicator_request_groups", metadata,
    sa.Column("group_id", sa.String(40), primary_key=True),
    sa.Column("citizen", sa.String(40), nullable=False, index=True),  # repeat chains are per citizen
    sa.Column("district", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("filed_at", sa.Text),
    sa.Column("closed_at", sa.Text),
    sa.Column("day", sa.String(10)),
    sa.Column("month", sa.String(7), index=True),
    sa.Column("week", sa.String(8)),
    sa.Column("src", sa.String(200)),
    sa.Column("requests", sa.Integer, nullable=False),
    sa.Column("followups", sa.Integer, nullable=False),
    sa.Column("is_repeat", sa.Integer, nullable=False),
    sa.Column("repeats", sa.Integer, nullable=False),
    sa.Column("closed", sa.Integer, nullable=False),
    sa.Column("resolution_days", sa.Float),
)

# Which group each request was in when the groups were last maintained: resolution rewrites
# every request's membership on each run, so a group a request left is found only here.
indicator_group_members = sa.Table(
    "indicator_group_members", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("group_id", sa.String(40), nullable=False, index=True),
)

# Per maintained fact: the store marks it has caught up with, its version (bumped on every
# change) and `logged_since`: an indicator computed at that version or later catches up from
# the days log below; one computed earlier (before a rebuild, or the log was pruned) is
# recomputed in full.
indicator_facts = sa.Table(
    "indicator_facts", metadata,
    sa.Column("fact", sa.String(60), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("logged_since", sa.Integer, nullable=False),
    _ts("source_mark"),
    _ts("member_mark"),
    _ts("maintained_at", nullable=False),
)

# The days whose rows changed in each version of a maintained fact: an indicator last
# computed at version v recomputes the Jalali periods of the days changed after v.
indicator_fact_days = sa.Table(
    "indicator_fact_days", metadata,
    sa.Column("fact", sa.String(60), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
)


# ---------------------------------------------------------------- the stewards' workbench
# Owned by munihub.workbench.people (issue 19); created by migration 0007_workbench.

# People who sign in to the workbench.  Only a scrypt hash of the password is kept
# (`scrypt$n$r$p$salt$hash`, hex); `role` is steward (sees, decides, fixes), viewer (sees) or
# manager (sees the indicator dashboards only).
workbench_users = sa.Table(
    "workbench_users", metadata,
    sa.Column("username", sa.String(100), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    _ts("created_at", nullable=False),
)

# A signed-in browser: only the sha256 of its cookie token is kept; `csrf` is the token every
# form post of this session must carry.
workbench_sessions = sa.Table(
    "workbench_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
)
