"""Grants and field projection as plain functions: tokens hashed, personal values never leak."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from munihub.store import audit
from munihub.gateway import grants
from munihub import store
from munihub.errors import AccessDenied, ConfigError, MunihubError

PERSON = {"national_id": "0012345678", "first_name": "زهرا", "mobile": "+989151234567",
          "address": {"city": "مشهد", "detail": "کوچه ۱۲"}}


@pytest.fixture
def engine(tmp_path):
    return store.open_store(f"sqlite:///{tmp_path / 's.db'}")


def test_tokens_are_stored_only_as_hashes(engine):
    token = grants.add_agency(engine, "police", "پلیس")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(store.agency_tokens.c.token_hash)).scalars().all()
        assert stored == [grants.hash_token(token)] and token not in str(stored)
        assert grants.authenticate(conn, token).agency_id == "police"
        with pytest.raises(AccessDenied):
            grants.authenticate(conn, token + "x")
    second = grants.issue_token(engine, "police")
    assert grants.revoke(engine, "police") == 2
    with engine.connect() as conn, pytest.raises(AccessDenied):
        grants.authenticate(conn, second)


def test_admin_mistakes_are_refused(engine):
    with pytest.raises(ConfigError):
        grants.add_agency(engine, "Bad Name!", "x")
    grants.add_agency(engine, "tax", "مالیات")
    with pytest.raises(MunihubError, match="already exists"):
        grants.add_agency(engine, "tax", "again")
    with pytest.raises(MunihubError, match="no agency"):
        grants.grant(engine, "nobody", "registry.citizens", ["*"])
    with pytest.raises(ConfigError):
        grants.grant(engine, "tax", "registry.citizens", ["name; DROP TABLE grants"])


def test_grant_changes_are_audited(engine):
    grants.add_agency(engine, "tax", "مالیات")
    grants.grant(engine, "tax", "registry.citizens", ["first_name"])
    grants.grant(engine, "tax", "registry.citizens", ["*"], can_push=True)  # replaces the first
    grants.revoke(engine, "tax", "registry.citizens")
    with engine.connect() as conn:
        actions = conn.execute(sa.select(store.audit_log.c.action, store.audit_log.c.target)
                               .order_by(store.audit_log.c.seq)).all()
        assert grants.grants_of(conn, "tax") == {}
    assert [a for a, _ in actions] == ["agency.add", "grant", "grant", "revoke"]
    assert audit.verify(engine) == []
    assert grants.list_agencies(engine)[0]["tokens"] == 1


def view(fields, key=b"k", wanted=()):
    return grants.View("tax", grants.Grant("entity:person", tuple(fields)), grants.entity_personal, key, wanted)


def test_star_pseudonymizes_personal_fields_and_explicit_grants_clear_them():
    star = view(["*"]).project(PERSON)
    assert star["first_name"] == "زهرا" and star["address"]["city"].startswith("ps_")
    assert star["national_id"].startswith("ps_") and "0012345678" not in str(star)
    explicit = view(["*", "national_id"]).project(PERSON)
    assert explicit["national_id"] == "0012345678" and explicit["mobile"].startswith("ps_")
    assert view(["first_name", "address.city"]).project(PERSON) == {"first_name": "زهرا", "address": {"city": "مشهد"}}
    assert view(["*"], wanted=("first_name",)).project(PERSON) == {"first_name": "زهرا"}


def test_without_a_key_personal_values_are_masked():
    assert view(["*"], key=None).project(PERSON)["national_id"] == "*******678"


def test_pseudonyms_are_per_agency_per_field_and_keyed():
    p = grants.pseudonym("0012345678", agency_id="tax", field="national_id", key=b"k")
    assert p == grants.pseudonym("0012345678", agency_id="tax", field="national_id", key=b"k")
    assert p != grants.pseudonym("0012345678", agency_id="police", field="national_id", key=b"k")
    assert p != grants.pseudonym("0012345678", agency_id="tax", field="national_id", key=b"k2")


def test_field_and_filter_checks():
    v = view(["first_name", "national_id"])
    v.check_fields(["first_name"])
    with pytest.raises(AccessDenied):
        v.check_fields(["mobile"])
    with pytest.raises(ValueError):
        v.check_fields(["a b"])
    v.check_filter("national_id")
    with pytest.raises(AccessDenied, match="explicit grant"):
        view(["*"]).check_filter("national_id")


@pytest.mark.parametrize("key", [b"k", b"test-pseudonym-key", b"x" * 64, b"long" * 40])
def test_the_per_column_pseudonymizer_is_hmac_sha256_of_agency_field_value(key):
    """Agencies keep pseudonyms across requests: the fast path must give exactly the HMAC."""
    import hashlib
    import hmac
    column = grants.pseudonymizer(key, "tax", "address.detail")
    for value in ("0012345678", "خیابان امام رضا ۱۲", 12345, 1.5, True, ""):
        reference = "ps_" + hmac.new(key, f"tax|address.detail|{value}".encode(), hashlib.sha256).hexdigest()[:32]
        assert column(value) == reference == grants.pseudonym(value, agency_id="tax", field="address.detail", key=key)
        assert column(value) == reference  # the second time from the column's memo
    assert grants.pseudonymizer(None, "tax", "national_id")("0012345678") == "*******678"


def test_the_pseudonym_memo_stays_exact_when_it_overflows_and_keeps_types_apart(monkeypatch):
    from munihub.gateway import pages
    monkeypatch.setattr(pages, "MEMO_SIZE", 3)
    pages.pseudonym_column.cache_clear()
    column, values = grants.pseudonymizer(b"k", "tax", "district"), ["1", 1, True, "True", "a", "b", "c", "d"]
    expected = [grants.pseudonym(v, agency_id="tax", field="district", key=b"k") for v in values]
    assert [column(v) for v in values * 3] == expected * 3
    assert column(1) != column(True) and column(True) == column("True")
    pages.pseudonym_column.cache_clear()


