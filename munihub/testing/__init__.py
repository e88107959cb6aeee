"""For people who test munihub or their own connectors: the labelled Persian generator
(`synthetic`, and `exports` for how agencies' exports write a citizen), an N-subsystem city with its sources and local servers (`municipality`,
`municipality_server`), and the conformance suite every connector kind must pass
(`conformance`)."""
from __future__ import annotations

from munihub.testing.conformance import ConnectorConformance

__all__ = ["ConnectorConformance"]
