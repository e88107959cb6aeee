"""For people who test munihub or their own connectors: the labelled Persian generator
(`synthetic`, with `phenomena` for how agencies' exports write one citizen's name and phone),
five agencies' exports of one city's households with truth (`exports`, a second generator
written apart from the matcher), an N-subsystem city with its sources and local servers
(`municipality`, `municipality_server`), and the conformance suite every connector kind must
pass (`conformance`)."""
from __future__ import annotations

from munihub.testing.conformance import ConnectorConformance

__all__ = ["ConnectorConformance"]
