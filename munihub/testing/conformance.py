"""The connector conformance suite: every connector kind gets it in one line.

    from munihub.testing.conformance import ConnectorConformance

    class TestMyKind(ConnectorConformance):
        @pytest.fixture
        def make_connector(self, tmp_path):          # returns a zero-argument factory
            ...                                      # set up a real source with `expected` rows
            return lambda: MyConnector(params, source="demo.x")

        expected_count = 25                          # rows in the source
        key_field = "id"                             # a field unique per record
        incremental = True                           # the kind resumes from a cursor

Built on plain pytest so a third-party package needs nothing else.
"""
from __future__ import annotations

import json

import pytest

from munihub.ingest.connector import Batch, Connector


def _read_all(conn: Connector, cursor=None) -> tuple[list[dict], list[Batch]]:
    batches = list(conn.read_batches(cursor))
    return [r for b in batches for r in b.records], batches


class ConnectorConformance:
    """Tests every connector must pass.  Subclasses provide the `make_connector` fixture."""

    expected_count: int = 0
    key_field: str = "id"
    incremental: bool = True

    def test_is_a_connector_with_a_kind(self, make_connector):
        conn = make_connector()
        assert isinstance(conn, Connector)
        assert conn.kind, "set the class attribute `kind`"

    def test_reads_every_record_once(self, make_connector):
        with make_connector() as conn:
            records, batches = _read_all(conn)
        assert len(records) == self.expected_count
        keys = [str(r[self.key_field]) for r in records]
        assert len(set(keys)) == len(keys), "a record was read twice"
        assert all(isinstance(b, Batch) for b in batches)
        assert all(isinstance(r, dict) for r in records)

    def test_batches_respect_batch_size(self, make_connector):
        with make_connector() as conn:
            conn.batch_size = max(1, self.expected_count // 3)
            _, batches = _read_all(conn)
        assert all(len(b.records) <= conn.batch_size for b in batches)

    def test_cursor_is_json(self, make_connector):
        with make_connector() as conn:
            _, batches = _read_all(conn)
        for b in batches:
            json.dumps(b.cursor)  # cursors are stored as JSON in the store

    def test_resume_from_any_batch_cursor_reads_the_rest(self, make_connector):
        if not self.incremental:
            pytest.skip("this kind re-reads the whole source each run")
        with make_connector() as conn:
            conn.batch_size = max(1, self.expected_count // 4)
            records, batches = _read_all(conn)
        seen = 0
        for b in batches:
            seen += len(b.records)
            with make_connector() as again:
                rest, _ = _read_all(again, b.cursor)
            assert [str(r[self.key_field]) for r in rest] == \
                [str(r[self.key_field]) for r in records[seen:]]

    def test_final_cursor_reads_nothing_new(self, make_connector):
        if not self.incremental:
            pytest.skip("this kind re-reads the whole source each run")
        with make_connector() as conn:
            _, batches = _read_all(conn)
        final = batches[-1].cursor if batches else None
        with make_connector() as conn:
            rest, _ = _read_all(conn, final)
        assert rest == []

    def test_check_passes_on_a_reachable_source(self, make_connector):
        with make_connector() as conn:
            conn.check()

    def test_discover_proposes_the_key_field(self, make_connector):
        with make_connector() as conn:
            schema = conn.discover()
        assert self.key_field in schema.get("properties", {})
