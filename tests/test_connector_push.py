"""The push connector: deliveries written by `deliver` into a real inbox folder."""
from __future__ import annotations

import json
import threading

import pytest

from connectors.push import PushConnector, deliver
from munihub.testing.conformance import ConnectorConformance
from munihub.errors import PermanentSourceError, SecurityError

NAMES = ["مهدی رضایی", "فاطمه‌سادات حسینی", "علی كريمي"]


def rows(start, count):
    return [{"id": i, "name": NAMES[i % 3], "mobile": f"0915{i:07d}"} for i in range(start, start + count)]


class TestPushConformance(ConnectorConformance):
    expected_count = 23
    key_field = "id"
    incremental = True

    @pytest.fixture
    def make_connector(self, tmp_path):
        inbox = tmp_path / "inbox"
        deliver(inbox, "2024-03-01-a", json.dumps(rows(0, 10), ensure_ascii=False).encode())
        jsonl = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows(10, 8)) + "\n"
        deliver(inbox, "2024-03-01-b", jsonl.encode())
        deliver(inbox, "2024-03-02", json.dumps(rows(18, 5)).encode())
        return lambda: PushConnector({"inbox": str(inbox)}, source="test.push")


def test_deliveries_read_in_name_order_exactly_once(tmp_path):
    deliver(tmp_path, "b", json.dumps(rows(5, 2)).encode())
    deliver(tmp_path, "a", json.dumps(rows(0, 2)).encode())
    conn = PushConnector({"inbox": str(tmp_path)}, source="test.push")
    batches = list(conn.read_batches(None))
    assert [r["id"] for b in batches for r in b.records] == [0, 1, 5, 6]
    cursor = batches[-1].cursor
    assert cursor == {"done": ["a", "b"]}
    deliver(tmp_path, "0-late", json.dumps(rows(9, 1)).encode())  # sorts first, arrives last
    again = [r["id"] for b in conn.read_batches(cursor) for r in b.records]
    assert again == [9]


def test_persian_text_round_trips(tmp_path):
    deliver(tmp_path, "d1", json.dumps(rows(0, 3), ensure_ascii=False).encode("utf-8"))
    records = [r for b in PushConnector({"inbox": str(tmp_path)}).read_batches(None) for r in b.records]
    assert [r["name"] for r in records] == [NAMES[0], NAMES[1], NAMES[2]]
    assert "\u200c" in records[1]["name"] and "ك" in records[2]["name"]


def test_deliver_is_idempotent_and_refuses_a_changed_body(tmp_path):
    body = json.dumps(rows(0, 2)).encode()
    first = deliver(tmp_path, "d1", body)
    assert deliver(tmp_path, "d1", body) == first
    with pytest.raises(PermanentSourceError, match="different body"):
        deliver(tmp_path, "d1", json.dumps(rows(0, 3)).encode())
    assert first.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d1.json"]  # no temp files left


def test_concurrent_deliveries_of_one_id_store_one_file(tmp_path):
    bodies = [json.dumps(rows(0, i + 1)).encode() for i in range(8)]
    outcomes = []

    def send(body):
        try:
            deliver(tmp_path, "race", body)
            outcomes.append("ok")
        except PermanentSourceError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 7
    assert [p.name for p in tmp_path.iterdir()] == ["race.json"]


@pytest.mark.parametrize("body,match", [
    (b'[{"id": 1}, {"id": 2', "malformed JSON"),
    (b'[{"id": 1}, 5]', "item #2 is not an object"),
    (b'{"id": 1}\n{"id": 2\n', "line 2"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_deliver_validates_json(tmp_path, body, match):
    with pytest.raises(PermanentSourceError, match=match):
        deliver(tmp_path, "bad", body)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("delivery_id", ["../escape", ".hidden", "a/b", "", "x" * 200, "a..b"])
def test_deliver_refuses_unsafe_ids(tmp_path, delivery_id):
    with pytest.raises(SecurityError):
        deliver(tmp_path / "inbox", delivery_id, b"[]")
    assert not (tmp_path / "escape.json").exists()


def test_deliver_refuses_oversized_body(tmp_path):
    with pytest.raises(PermanentSourceError, match="over the limit of 100"):
        deliver(tmp_path, "big", json.dumps(rows(0, 50)).encode(), max_bytes=100)


def test_a_broken_file_dropped_in_the_inbox_names_file_and_line(tmp_path):
    (tmp_path / "manual.jsonl").write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(PermanentSourceError, match=r"manual.jsonl:2"):
        list(PushConnector({"inbox": str(tmp_path)}).read_batches(None))


def test_empty_delivery_is_marked_done(tmp_path):
    deliver(tmp_path, "empty", b"[]")
    batches = list(PushConnector({"inbox": str(tmp_path)}).read_batches(None))
    assert batches[-1].cursor == {"done": ["empty"]} and batches[-1].records == []
