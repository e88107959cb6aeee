"""The hash-chained audit log: appends from many writers stay one chain; tampering is named."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from munihub.store import audit
from munihub import store
from munihub.errors import StoreError


def filled(url: str, n: int = 6) -> sa.Engine:
    engine = store.open_store(url)
    for i in range(n):
        with engine.begin() as conn:
            audit.append(conn, "pipeline", "sync", f"registry.citizens#{i}", "published", {"rows": i, "نام": "علی"})
    return engine


def test_a_clean_chain_verifies_on_every_engine(store_url):
    engine = filled(store_url)
    assert audit.verify(engine) == []
    assert audit.head(engine)["seq"] == 6


def test_concurrent_writers_keep_one_chain(store_url):
    engine = filled(store_url, 1)
    errors = []

    def write(i):
        for j in range(15):
            try:
                with engine.begin() as conn:
                    audit.append(conn, f"w{i}", "api.get", "/x", "200", {"j": j})
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and audit.verify(engine) == [] and audit.head(engine)["seq"] == 61


def test_an_entry_rolled_back_with_its_action_leaves_no_trace(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}", 2)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            audit.append(conn, "admin", "grant", "x", "ok", {})
            raise RuntimeError("the audited action failed")
    assert audit.head(engine)["seq"] == 2 and audit.verify(engine) == []


def test_edited_detail_is_caught(store_url):
    engine = filled(store_url)
    with engine.begin() as conn:
        conn.execute(sa.update(store.audit_log).where(store.audit_log.c.seq == 3).values(detail={"rows": 999}))
    problems = audit.verify(engine)
    assert problems == ["entry 3: content does not match its hash (edited: sync registry.citizens#2 by pipeline)"]


def test_deleted_entry_is_caught(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        conn.execute(sa.delete(store.audit_log).where(store.audit_log.c.seq == 4))
    problems = audit.verify(engine)
    assert any("entry 4 missing before entry 5" in p for p in problems)
    assert any("entry 5: prev_hash" in p for p in problems)


def test_reordered_entries_are_caught(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}")
    t = store.audit_log
    with engine.begin() as conn:  # swap the numbers of entries 2 and 3
        conn.execute(sa.update(t).where(t.c.seq == 2).values(seq=-2))
        conn.execute(sa.update(t).where(t.c.seq == 3).values(seq=2))
        conn.execute(sa.update(t).where(t.c.seq == -2).values(seq=3))
    problems = audit.verify(engine)
    assert any(p.startswith("entry 2:") for p in problems) and any(p.startswith("entry 3:") for p in problems)


def test_rewritten_hash_is_caught_by_the_next_entry(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}")
    t = store.audit_log
    with engine.connect() as conn:
        row = dict(conn.execute(sa.select(t).where(t.c.seq == 2)).mappings().one())
    row["outcome"] = "failed"
    forged = audit.entry_hash(row["prev_hash"], row)  # a careful forger recomputes this entry's hash
    with engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.seq == 2).values(outcome="failed", hash=forged))
    assert audit.verify(engine) == ["entry 3: prev_hash does not match the entry before it "
                                    "(an entry was deleted, inserted or reordered)"]


def test_append_fails_loudly_when_the_table_is_gone(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}", 1)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_log"))
    with pytest.raises(StoreError, match="cannot write the audit entry"):
        with engine.begin() as conn:
            audit.append(conn, "x", "y", "z", "ok")


def test_cli_audit_verify_exits_1_on_tampering(tmp_path, monkeypatch, capsys):
    from munihub.cli.main import main
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path))
    monkeypatch.setenv("MUNIHUB_STORE_URL", url)
    assert main(["agencies", "add", "police", "--by", "tester"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) > 30
    assert main(["agencies", "grant", "police", "registry.citizens", "--fields", "first_name"]) == 0
    assert main(["audit", "verify"]) == 0 and "intact: 2 entries" in capsys.readouterr().out
    with store.open_store(url).begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'eve' WHERE seq = 1"))
    assert main(["audit", "verify"]) == 1
    assert "entry 1: content does not match its hash" in capsys.readouterr().out
