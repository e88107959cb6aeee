"""Indicators through the gateway: a grant per indicator (403 without), the same audit and
sealed-cursor paging as datasets, small counts suppressed, no personal field in any figure."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.config import REPO_ROOT, Settings
from munihub.gateway import grants
from munihub.indicators import load_all, refresh

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from munihub.gateway.api import GatewayConfig, create_app  # noqa: E402
from tests.test_indicators import AS_OF, SHIPPED, city  # noqa: E402,F401  (the fixture)

PERSONAL = ("national_id", "citizen_name", "mobile", "first_name", "last_name", "address", "tracking_code")


@pytest.fixture
def gw(city, tmp_path):
    refresh(city, load_all(SHIPPED)[0], as_of=AS_OF)
    settings = Settings(home=tmp_path, store_url=str(city.url.render_as_string(hide_password=False)),
                        contracts_dir=REPO_ROOT / "contracts", schemas_dir=REPO_ROOT / "schemas")
    tokens = {a: grants.add_agency(city, a, a.upper(), rate_per_minute=100000, page_cap=3)
              for a in ("planning", "nobody")}
    grants.grant(city, "planning", "indicator:137.requests", ["*"])
    grants.grant(city, "planning", "indicator:systems.overlap", ["*"])
    client = TestClient(create_app(settings, GatewayConfig(pseudonym_key=b"k")))
    return client, {a: {"Authorization": f"Bearer {t}"} for a, t in tokens.items()}


def test_an_indicator_needs_its_grant(gw):
    client, auth = gw
    assert client.get("/v1/indicators/137.requests", headers=auth["nobody"]).status_code == 403
    assert client.get("/v1/indicators/137.repeat_rate", headers=auth["planning"]).status_code == 403
    assert client.get("/v1/indicators/137.requests").status_code == 401
    ok = client.get("/v1/indicators/137.requests", headers=auth["planning"], params={"limit": 3})
    assert ok.status_code == 200 and ok.json()["figures"]
    listed = client.get("/v1/indicators", headers=auth["planning"]).json()["indicators"]
    assert [d["id"] for d in listed] == ["137.requests", "systems.overlap"]
    assert client.get("/v1/indicators", headers=auth["nobody"]).json()["indicators"] == []


def test_pages_cover_every_figure_once_with_small_counts_suppressed(gw, city):
    client, auth = gw
    seen, cursor = [], None
    while True:
        r = client.get("/v1/indicators/137.requests", headers=auth["planning"],
                       params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        assert len(r["figures"]) <= 3
        seen += r["figures"]
        cursor = r["next_cursor"]
        if not cursor:
            break
    with city.connect() as conn:
        stored = conn.execute(sa.select(store.indicator_values.c.period, store.indicator_values.c.citizens)
                              .where(store.indicator_values.c.indicator_id == "137.requests")).all()
    assert len(seen) == len(stored)
    assert sum(f["suppressed"] for f in seen) == sum(1 for _, n in stored if 0 < n < 5) > 0
    assert all(f["value"] is None for f in seen if f["suppressed"])
    text = str(seen)
    assert not any(field in text for field in PERSONAL)
    over = client.get("/v1/indicators/137.requests", headers=auth["planning"], params={"limit": 4})
    assert over.status_code == 422  # the agency's page cap, as for datasets
    bad = client.get("/v1/indicators/137.requests", headers=auth["planning"], params={"cursor": "forged"})
    assert bad.status_code == 422


def test_indicator_requests_are_audited(gw, city):
    client, auth = gw
    client.get("/v1/indicators/137.requests", headers=auth["nobody"])
    client.get("/v1/indicators/systems.overlap", headers=auth["planning"], params={"limit": 3})
    with city.connect() as conn:
        rows = conn.execute(sa.select(store.audit_log).where(store.audit_log.c.action == "api.get")
                            .order_by(store.audit_log.c.seq)).mappings().all()
    assert [(r["actor"], r["outcome"], r["detail"]["dataset"]) for r in rows] == [
        ("nobody", "403", "indicator:137.requests"), ("planning", "200", "indicator:systems.overlap")]


def test_figures_filter_by_a_dimension(gw):
    client, auth = gw
    got = client.get("/v1/indicators/137.requests", headers=auth["planning"],
                     params={"limit": 3, "filter[district]": "منطقه 2"}).json()["figures"]
    assert got and all(f["dims"]["district"] == "منطقه 2" for f in got)
    bad = client.get("/v1/indicators/137.requests", headers=auth["planning"],
                     params={"limit": 3, "filter[national_id]": "1"})
    assert bad.status_code == 422 and "no dimension national_id" in bad.json()["detail"]
