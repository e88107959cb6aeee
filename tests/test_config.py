"""Settings are checked at load, every problem reported at once."""
from __future__ import annotations

import pytest

from munihub.config import load_settings
from munihub.errors import ConfigError


def test_defaults_need_nothing_but_the_repo(tmp_path):
    s = load_settings({"MUNIHUB_HOME": str(tmp_path)})
    assert s.store_url == f"sqlite:///{tmp_path / 'munihub.db'}" and s.batch_size == 1000 and s.match_settings is None


def test_every_problem_is_reported_together(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings({"MUNIHUB_HOME": str(tmp_path), "MUNIHUB_CONTRACTS": str(tmp_path / "nope"),
                       "MUNIHUB_STORE_URL": "not-a-url", "MUNIHUB_BATCH_SIZE": "-3",
                       "MUNIHUB_MATCH_SETTINGS": str(tmp_path / "missing.yaml")})
    text = str(err.value)
    for name in ("MUNIHUB_CONTRACTS", "MUNIHUB_STORE_URL", "MUNIHUB_BATCH_SIZE", "MUNIHUB_MATCH_SETTINGS"):
        assert name in text


def test_match_settings_file_is_read_and_checked(tmp_path):
    good = tmp_path / "match.yaml"
    good.write_text("person: {match: 0.97, review: 0.7}\n", encoding="utf-8")
    assert load_settings({"MUNIHUB_MATCH_SETTINGS": str(good)}).match_settings == {"person": {"match": 0.97, "review": 0.7}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("person: {match: 0.5, review: 0.8}\nservice_request: {match: 7}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings({"MUNIHUB_MATCH_SETTINGS": str(bad)})
    assert "person.review" in str(err.value) and "service_request.match" in str(err.value)
