"""The soap connector against a real SOAP endpoint on 127.0.0.1 (hand-written WSDL in data/soap)."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import pytest

from connectors.soap import SoapConnector
from fakeserver import Reply, failing_first, serve, status
from munihub.testing.conformance import ConnectorConformance
from munihub.errors import ConfigError, PermanentSourceError, SecurityError, TransientSourceError

WSDL = Path(__file__).parent / "data" / "soap" / "citizens.wsdl"
NS = "urn:munihub:test:citizens"
PEOPLE = [{"id": i, "name": name, "district": f"منطقه {i % 13 + 1}",
           "updated_at": f"1403-08-{i % 9 + 10:02d}"}
          for i, name in enumerate(["محمدرضا", "فاطمه‌زهرا", "علي", "كاظم", "زینب", "حسین", "مریم"] * 3, 1)]


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch):
    monkeypatch.setenv("MUNIHUB_ALLOW_HOSTS", "127.0.0.1")


def envelope(inner: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f"{inner}</soap:Body></soap:Envelope>").encode("utf-8")


def citizens_endpoint(people):
    """ListCitizens: filters `since` (>=), sorts by (updated_at, id), pages by page/pageSize."""
    def handler(req):
        body = ET.fromstring(req.body).find(f".//{{{NS}}}ListCitizens")
        arg = {child.tag.split("}")[1]: child.text for child in body}
        if arg.get("district") == "boom":
            fault = ("<soap:Fault><faultcode>soap:Client</faultcode>"
                     "<faultstring>منطقه نامعتبر است</faultstring></soap:Fault>")
            return Reply(500, envelope(fault), {"Content-Type": "text/xml; charset=utf-8"})
        rows = sorted(people, key=lambda r: (r["updated_at"], r["id"]))
        if arg.get("since"):
            rows = [r for r in rows if r["updated_at"] >= arg["since"]]
        size = int(arg.get("pageSize") or 1000)
        page = int(arg.get("page") or 1)
        chunk = rows[(page - 1) * size: page * size]
        items = "".join("<tns:citizen>" + "".join(f"<tns:{k}>{escape(str(v))}</tns:{k}>" for k, v in r.items())
                        + "</tns:citizen>" for r in chunk)
        inner = (f'<tns:ListCitizensResponse xmlns:tns="{NS}"><tns:total>{len(rows)}</tns:total>'
                 f"<tns:citizens>{items}</tns:citizens></tns:ListCitizensResponse>")
        return Reply(200, envelope(inner), {"Content-Type": "text/xml; charset=utf-8"})
    return handler


def wsdl_route(endpoint_url):
    text = WSDL.read_text(encoding="utf-8").replace("http://soap-endpoint.invalid/citizens", endpoint_url)
    return lambda req: Reply(200, text.encode("utf-8"), {"Content-Type": "text/xml"})


def soap(server, **params):
    base = {"wsdl": str(WSDL), "endpoint": server.url + "/soap", "operation": "ListCitizens",
            "records": "citizens.citizen", "retries": 2, "backoff_base": 0.01, "timeout": 5}
    return SoapConnector({**base, **params}, source="test.citizens")


@pytest.fixture(scope="module")
def soap_server():
    with serve({"/soap": citizens_endpoint(PEOPLE)}) as server:
        yield server


class TestSoapConformance(ConnectorConformance):
    expected_count = len(PEOPLE)
    key_field = "id"
    incremental = True

    @pytest.fixture
    def make_connector(self, soap_server):
        return lambda: soap(soap_server, paging={"page_argument": "page", "size_argument": "pageSize",
                                                 "page_size": 5},
                            incremental={"argument": "since", "field": "updated_at"})


def test_persian_text_round_trips(soap_server):
    records = [r for b in soap(soap_server).read_batches(None) for r in b.records]
    by_id = {r["id"]: r for r in records}
    assert by_id[2]["name"] == "فاطمه‌زهرا" and "\u200c" in by_id[2]["name"]
    assert by_id[3]["name"] == "علي" and by_id[1]["district"] == "منطقه 2"


def test_wsdl_served_over_http(soap_server):
    with serve({"/soap": citizens_endpoint(PEOPLE[:4])}) as server:
        server.routes["/wsdl"] = wsdl_route(server.url + "/soap")
        conn = SoapConnector({"wsdl": server.url + "/wsdl", "operation": "ListCitizens",
                              "records": "citizens.citizen"}, source="test.citizens")
        assert sorted(r["id"] for b in conn.read_batches(None) for r in b.records) == [1, 2, 3, 4]
        assert [h.path for h in server.hits] == ["/wsdl", "/soap"]


def test_incremental_since_is_sent(soap_server):
    conn = soap(soap_server, incremental={"argument": "since", "field": "updated_at"})
    records = [r for b in conn.read_batches({"since": "1403-08-17", "seen": []}) for r in b.records]
    assert records and all(r["updated_at"] >= "1403-08-17" for r in records)


def test_fault_is_permanent_and_carries_the_message(soap_server):
    before = len(soap_server.hits)
    with pytest.raises(PermanentSourceError) as err:
        list(soap(soap_server, arguments={"district": "boom"}).read_batches(None))
    assert "SOAP fault" in str(err.value) and "منطقه نامعتبر است" in str(err.value)
    assert len(soap_server.hits) == before + 1  # not retried


def test_5xx_then_success_is_retried():
    with serve({"/soap": failing_first(citizens_endpoint(PEOPLE), 2, 503)}) as server:
        assert len([r for b in soap(server).read_batches(None) for r in b.records]) == len(PEOPLE)
        assert len(server.hits) == 3


def test_connection_refused_is_transient():
    with serve({}) as server:
        pass
    with pytest.raises(TransientSourceError, match="gave up after 2 attempts"):
        list(soap(server, retries=1).read_batches(None))


def test_http_404_is_permanent():
    with serve({"/soap": status(404)}) as server:
        with pytest.raises(PermanentSourceError, match="HTTP 404"):
            list(soap(server).read_batches(None))
        assert len(server.hits) == 1


def test_endpoint_on_a_forbidden_host_is_refused(monkeypatch, soap_server):
    monkeypatch.delenv("MUNIHUB_ALLOW_HOSTS")
    with pytest.raises(SecurityError):
        list(soap(soap_server, endpoint="http://169.254.169.254/soap").read_batches(None))
    with pytest.raises(SecurityError):
        list(soap(soap_server).read_batches(None))  # 127.0.0.1 without the allow-list


def test_remote_wsdl_may_not_import_local_files(tmp_path):
    evil = WSDL.read_text(encoding="utf-8").replace(
        "<types>", f'<import namespace="urn:x" location="file://{tmp_path / "secret.xsd"}"/><types>')
    (tmp_path / "secret.xsd").write_text("<x/>")
    with serve({"/wsdl": lambda req: Reply(200, evil.encode(), {"Content-Type": "text/xml"})}) as server:
        with pytest.raises(SecurityError, match="local file"):
            SoapConnector({"wsdl": server.url + "/wsdl", "operation": "ListCitizens"}).check()


def test_check_names_a_missing_operation(soap_server):
    soap(soap_server).check()
    with pytest.raises(ConfigError, match="NoSuchCall"):
        soap(soap_server, operation="NoSuchCall").check()
