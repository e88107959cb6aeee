"""The rest connector against a real HTTP server on 127.0.0.1 (tests/fakeserver.py)."""
from __future__ import annotations

import time

import pytest

from connectors.http_fetch import parse_retry_after
from connectors.rest import RestConnector
from fakeserver import (drip, failing_first, json_reply, oauth2_token, paginated, raw, redirect,
                        requires, serve, status, xml_list)
from munihub.testing.conformance import ConnectorConformance
from munihub.errors import ConfigError, PermanentSourceError, SecurityError, TransientSourceError

ROWS = [{"id": i, "name": f"زهرا محمدی‌نژاد {i}", "city": "مشهد",
         "updated_at": f"2024-03-{i % 7 + 1:02d}T10:00:00"} for i in range(1, 28)]
PAGING = {
    "page": {"type": "page", "page_size": 10},
    "offset": {"type": "offset", "page_size": 10},
    "cursor": {"type": "cursor", "page_size": 10, "size_param": "limit", "cursor_path": "meta.next_cursor"},
    "link": {"type": "link", "page_size": 10, "size_param": "limit"},
    "next_url": {"type": "next_url", "page_size": 10, "size_param": "limit", "next_path": "links.next"},
}


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    monkeypatch.setenv("MUNIHUB_ALLOW_HOSTS", "127.0.0.1")


def rest(url, **params):
    secrets = params.pop("secrets", None)
    base = {"url": url, "retries": 2, "backoff_base": 0.01, "backoff_max": 0.05,
            "timeout": {"connect": 2, "read": 2, "total": 5}}
    return RestConnector({**base, **params}, source="test.items", secrets=secrets)


def read_all(conn, cursor=None):
    return [r for b in conn.read_batches(cursor) for r in b.records]


@pytest.fixture(scope="module", params=sorted(PAGING))
def paged_server(request):
    with serve({"/items": paginated(ROWS, request.param)}) as server:
        yield server, request.param


class TestConformanceEachPagination(ConnectorConformance):
    expected_count = len(ROWS)
    key_field = "id"
    incremental = True

    @pytest.fixture
    def make_connector(self, paged_server):
        server, style = paged_server
        return lambda: rest(server.url, path="/items", records="data.items", pagination=PAGING[style],
                            incremental={"param": "updated_since", "field": "updated_at"})


def test_incremental_keeps_records_stamped_exactly_at_since():
    rows = [dict(r) for r in ROWS]
    with serve({"/items": lambda req: paginated(rows, "page")(req)}) as server:
        conn = rest(server.url, path="/items", records="data.items", pagination=PAGING["page"],
                    incremental={"param": "updated_since", "field": "updated_at"})
        batches = list(conn.read_batches(None))
        final = batches[-1].cursor
        assert final["since"] == max(r["updated_at"] for r in ROWS)
        # A new record arrives stamped with exactly the watermark: it must not be lost.
        rows.append({"id": 99, "name": "رضا", "city": "مشهد", "updated_at": final["since"]})
        again = read_all(rest(server.url, path="/items", records="data.items", pagination=PAGING["page"],
                              incremental={"param": "updated_since", "field": "updated_at"}), final)
        assert [r["id"] for r in again] == [99]
        assert server.hits[-1].query["updated_since"] == final["since"]


def test_persian_text_round_trips():
    with serve({"/items": paginated(ROWS, "page")}) as server:
        records = read_all(rest(server.url + "/items", records="data.items", pagination=PAGING["page"]))
    first = next(r for r in records if r["id"] == 7)
    assert first["name"] == "زهرا محمدی‌نژاد 7" and "\u200c" in first["name"]
    assert {r["city"] for r in records} == {"مشهد"}


def test_xml_format_reads_record_elements():
    with serve({"/x": xml_list(ROWS[:5], "permit")}) as server:
        records = read_all(rest(server.url + "/x", format="xml", record_tag="permit"))
    assert [r["id"] for r in records] == ["1", "2", "3", "4", "5"]
    assert records[2]["name"] == "زهرا محمدی‌نژاد 3"


def test_429_retry_after_is_honoured():
    ok = paginated(ROWS, "page")
    with serve({"/items": failing_first(ok, 1, 429, {"Retry-After": "1"})}) as server:
        conn = rest(server.url + "/items", records="data.items", backoff_max=5)
        started = time.monotonic()
        records = read_all(conn)
        waited = time.monotonic() - started
    assert len(records) == 10 and len(server.hits) == 2
    assert 0.95 <= waited < 3, waited


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None


def test_500s_then_success():
    with serve({"/items": failing_first(paginated(ROWS, "page"), 2, 500)}) as server:
        conn = rest(server.url + "/items", records="data.items")
        assert len(read_all(conn)) == 10
    assert len(server.hits) == 3 and conn.client.retries_made == 2


def test_retries_exhausted_is_transient():
    with serve({"/items": status(503)}) as server:
        with pytest.raises(TransientSourceError) as err:
            read_all(rest(server.url + "/items", retries=3))
    assert len(server.hits) == 4
    assert err.value.retryable and "HTTP 503" in str(err.value) and "test.items" in str(err.value)


def test_connection_refused_is_transient():
    with serve({}) as server:
        url = server.url
    with pytest.raises(TransientSourceError):
        read_all(rest(url + "/items", retries=1))


@pytest.mark.parametrize("code", [401, 403, 404, 400])
def test_client_errors_are_permanent_without_retry(code):
    with serve({"/items": status(code)}) as server:
        with pytest.raises(PermanentSourceError) as err:
            read_all(rest(server.url + "/items"))
    assert len(server.hits) == 1 and not err.value.retryable
    assert f"HTTP {code}" in str(err.value)


def test_drip_ends_in_timeout_within_total_budget():
    body = b'{"data": {"items": []}}' * 10
    with serve({"/items": drip(body, 0.2)}) as server:
        conn = rest(server.url + "/items", retries=0, timeout={"connect": 1, "read": 1, "total": 2})
        started = time.monotonic()
        with pytest.raises(TransientSourceError) as err:
            read_all(conn)
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 3.5, elapsed
    assert "total timeout" in str(err.value)


def test_truncated_json_names_url_and_byte():
    body = b'{"data": {"items": [{"id": 1, "name": "\xd8\xb9\xd9\x84\xdb\x8c"}, {"id": 2, "na'
    with serve({"/items": raw(body)}) as server:
        with pytest.raises(PermanentSourceError) as err:
            read_all(rest(server.url + "/items", records="data.items"))
    text = str(err.value)
    assert "truncated JSON at byte" in text and f"of {len(body)}" in text and "/items" in text
    assert len(server.hits) == 1


def test_malformed_xml_is_permanent():
    with serve({"/x": raw(b"<records><r><id>1</id></r><r><id>2</r></records>", "application/xml")}) as server:
        with pytest.raises(PermanentSourceError, match=r"malformed XML at byte \d+"):
            read_all(rest(server.url + "/x", format="xml", record_tag="r"))


def test_body_over_max_size_is_aborted():
    big = b'{"items": [' + b'{"id": 1},' * 200_000 + b'{"id": 2}]}'
    with serve({"/big": raw(big)}) as server:
        with pytest.raises(PermanentSourceError, match="larger than 100000 bytes"):
            read_all(rest(server.url + "/big", records="items", max_response_bytes=100_000))
    assert len(server.hits) == 1


def test_body_over_max_size_without_content_length_is_aborted():
    from fakeserver import Reply
    big = b"[" + b'{"id": 1},' * 50_000 + b"{}]"
    # A lying Content-Length is not needed: the cap counts bytes actually read.
    with serve({"/big": lambda req: Reply(200, big, {"Content-Length": str(len(big))})}) as server:
        with pytest.raises(PermanentSourceError, match="larger than"):
            read_all(rest(server.url + "/big", max_response_bytes=len(big) - 1))


SECRET = "s3cr3t-token-XYZ-9f8e"


@pytest.mark.parametrize("auth,secrets,guard", [
    ({"type": "bearer"}, {"token": SECRET}, {"bearer": SECRET}),
    ({"type": "basic"}, {"username": "steward", "password": SECRET}, {"basic": ("steward", SECRET)}),
    ({"type": "api_key", "header": "X-Api-Key"}, {"api_key": SECRET}, {"header": ("X-Api-Key", SECRET)}),
    ({"type": "api_key", "query_param": "apikey"}, {"api_key": SECRET}, {"query": ("apikey", SECRET)}),
])
def test_each_auth_type_is_checked_by_the_server(auth, secrets, guard):
    with serve({"/items": requires(paginated(ROWS, "page"), **guard)}) as server:
        assert len(read_all(rest(server.url + "/items", records="data.items", auth=auth,
                                 secrets=secrets))) == 10
        with pytest.raises(PermanentSourceError) as err:  # wrong secret: refused, not retried
            read_all(rest(server.url + "/items", records="data.items", auth=auth,
                          secrets={k: "wrong-value" for k in secrets}))
    assert "HTTP 401" in str(err.value) and "wrong-value" not in str(err.value)


def test_non_latin_header_secret_fails_cleanly():
    secret = "رمز-خیلی-محرمانه"
    with serve({"/items": paginated(ROWS, "page")}) as server:
        with pytest.raises(PermanentSourceError) as err:
            read_all(rest(server.url + "/items", auth={"type": "bearer"}, secrets={"token": secret}))
    assert "header" in str(err.value) and secret not in str(err.value) and server.hits == []


def test_oauth2_client_credentials():
    token = "access-tok-123456"
    routes = {"/token": oauth2_token("hub", SECRET, token),
              "/items": requires(paginated(ROWS, "page"), bearer=token)}
    with serve(routes) as server:
        conn = rest(server.url + "/items", records="data.items",
                    auth={"type": "oauth2", "token_url": server.url + "/token"},
                    secrets={"client_id": "hub", "client_secret": SECRET})
        assert len(read_all(conn)) == 10
        assert [h.path for h in server.hits] == ["/token", "/items"]
        bad = rest(server.url + "/items", auth={"type": "oauth2", "token_url": server.url + "/token"},
                   secrets={"client_id": "hub", "client_secret": "nope-nope"})
        with pytest.raises(PermanentSourceError):
            read_all(bad)


def test_missing_secret_is_a_config_error_listing_it():
    with pytest.raises(ConfigError, match="username, password"):
        rest("http://127.0.0.1:9/x", auth={"type": "basic"})


def test_secret_never_appears_in_error_messages():
    with serve({"/items": status(503)}) as server:
        with pytest.raises(TransientSourceError) as err:
            read_all(rest(server.url + "/items", retries=0, auth={"type": "api_key", "query_param": "apikey"},
                          secrets={"api_key": SECRET}))
    assert SECRET not in str(err.value) and "apikey=%2A%2A%2A" in str(err.value) or "apikey=***" in str(err.value)
    with serve({}) as server:
        url = server.url
    with pytest.raises(TransientSourceError) as err:  # connection refused: requests' own text
        read_all(rest(url + "/items", retries=0, query={"access_token": SECRET}))
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/items", "http://localhost:{port}/items", "http://169.254.169.254/latest/meta-data",
    "http://2130706433:{port}/items", "http://0x7f000001:{port}/items", "http://0177.0.0.1:{port}/items",
    "http://[::1]:{port}/items", "http://10.1.2.3/x", "http://192.168.1.1/x",
    "file:///etc/passwd", "gopher://127.0.0.1:70/x", "ftp://127.0.0.1/x",
])
def test_ssrf_refused_without_allow_list(monkeypatch, url):
    monkeypatch.delenv("MUNIHUB_ALLOW_HOSTS")
    with serve({"/items": paginated(ROWS, "page")}) as server:
        with pytest.raises(SecurityError):
            read_all(rest(url.format(port=server.port)))
        assert server.hits == []  # refused before any byte left


def test_redirect_to_loopback_is_refused():
    # localhost is allowed by name; a redirect to the loopback IP is not.
    with serve({"/items": paginated(ROWS, "page")}) as target:
        with serve({"/go": redirect(target.url + "/items")}) as hop:
            conn = rest(f"http://localhost:{hop.port}/go", allow_hosts=["localhost"])
            with pytest.MonkeyPatch.context() as mp:
                mp.delenv("MUNIHUB_ALLOW_HOSTS")
                with pytest.raises(SecurityError, match="127.0.0.1"):
                    read_all(conn)
            assert len(hop.hits) == 1 and target.hits == []


def test_redirects_are_followed_on_allowed_hosts_up_to_five():
    with serve({"/items": paginated(ROWS, "page")}) as server:
        server.routes["/a"] = redirect("/items?page=2")
        records = read_all(rest(server.url + "/a", records="data.items"))
        assert [r["id"] for r in records] == [r["id"] for r in sorted(
            ROWS, key=lambda r: (r["updated_at"], str(r["id"])))][10:20]
        server.routes["/loop"] = redirect("/loop")
        with pytest.raises(SecurityError, match="more than 5 redirects"):
            read_all(rest(server.url + "/loop"))
        assert len(server.hits_on("/loop")) == 6


def test_redirect_to_another_host_drops_credentials():
    with serve({"/echo": lambda req: json_reply([{"auth": req.headers.get("authorization", "")}])}) as other:
        with serve({"/go": redirect(f"http://localhost:{other.port}/echo")}) as hop:
            conn = rest(hop.url + "/go", auth={"type": "bearer"}, secrets={"token": SECRET},
                        allow_hosts=["localhost"])
            assert read_all(conn) == [{"auth": ""}]


def test_rate_limit_spaces_requests():
    with serve({"/items": paginated(ROWS, "page")}) as server:
        started = time.monotonic()
        read_all(rest(server.url + "/items", records="data.items", pagination=PAGING["page"],
                      rate_limit_per_second=10))
        elapsed = time.monotonic() - started
    assert len(server.hits) == 3 and elapsed >= 0.19


def test_check_fetches_one_page_only():
    with serve({"/items": paginated(ROWS, "page")}) as server:
        rest(server.url + "/items", records="data.items", pagination=PAGING["page"]).check()
    assert len(server.hits) == 1


SERVED = [r["id"] for r in sorted(ROWS, key=lambda r: (r["updated_at"], str(r["id"])))]  # the server's order


def test_the_next_page_is_fetched_while_the_current_one_is_processed():
    # The consumer holds page 1 until the server has been asked for page 2: without a reader
    # running ahead that wait can only end in its timeout.
    import threading

    asked_for_page_2 = threading.Event()
    pages = paginated(ROWS, "page")

    def handler(req):
        if req.query.get("page") == "2":
            asked_for_page_2.set()
        return pages(req)

    with serve({"/items": handler}) as server:
        conn = rest(server.url, path="/items", records="data.items", pagination=PAGING["page"])
        batches = conn.read_batches(None)
        first = next(batches)
        assert first.records[0]["id"] == SERVED[0]
        assert asked_for_page_2.wait(timeout=5), "page 2 was not fetched ahead"
        assert [r["id"] for b in [first, *batches] for r in b.records] == SERVED


def test_prefetch_zero_reads_in_turn_and_an_error_ahead_surfaces_in_order():
    pages = paginated(ROWS, "page")

    def handler(req):
        return status(400)(req) if req.query.get("page") == "3" else pages(req)

    with serve({"/items": handler}) as server:
        for ahead in (0, 1, 3):
            conn = rest(server.url, path="/items", records="data.items", pagination=PAGING["page"], prefetch=ahead)
            seen = []
            with pytest.raises(PermanentSourceError):
                for batch in conn.read_batches(None):
                    seen.extend(r["id"] for r in batch.records)
            assert seen == SERVED[:20], ahead  # pages 1 and 2 delivered, then the error


def test_a_consumer_that_stops_early_stops_the_reader():
    import threading

    with serve({"/items": paginated(ROWS, "page")}) as server:
        conn = rest(server.url, path="/items", records="data.items", pagination={"type": "page", "page_size": 1},
                    prefetch=2)
        batches = conn.read_batches(None)
        next(batches)
        batches.close()
        time.sleep(0.3)
        assert not any(t.name == "rest-prefetch" and t.is_alive() for t in threading.enumerate())
        assert len(server.hits_on("/items")) <= 5  # one delivered, two ahead, one blocked at most
