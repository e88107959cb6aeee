"""Property-based: generated requests against the gateway's own OpenAPI never get a 500."""
from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.test_api import KEY, make_gateway  # noqa: E402

pytestmark = pytest.mark.slow


def test_no_server_errors_on_any_operation(tmp_path):
    # schemathesis.pytest.from_fixture fails on this pytest version, so each operation's
    # strategy is driven by hypothesis directly.
    from munihub.gateway.api import GatewayConfig, create_app
    s, tokens = make_gateway(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", n=12)
    app = create_app(s, GatewayConfig(pseudonym_key=KEY, max_push_bytes=4096))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    failures = []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            for token in (tokens["all"], tokens["pusher"], tokens["golden"], "wrong"):
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                if response.status_code >= 500:
                    failures.append((case.method, case.formatted_path, case.query, response.text[:200]))
        run()
    assert failures == []
