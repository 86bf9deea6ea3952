"""The command line: configuration checks with located errors, API keys, the embedded key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway import apikeys
from gateway.cli import main
from gateway.config import load_config
from gateway.embedded import embedded_config
from gateway.yamlfile import FileErrors
from mappings import mapping_path

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "embedded.yaml"


def write_config(folder: Path, body: str) -> Path:
    shutil.copy(mapping_path("embedded.yaml"), folder / "city.yaml")
    path = folder / "gateway.yaml"
    path.write_text(body, encoding="utf-8")
    return path


VALID = """\
gateway:
  contact: ${{CITY_CONTACT}}
jurisdictions:
  - id: example.city
    mapping: city.yaml
    api_keys: [{hash}]
    connector:
      settings:
        url: sqlite:///data/tickets.db
"""


def test_check_accepts_the_shipped_example(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", "k")
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_env_references_and_relative_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CITY_CONTACT", "311@example.city")
    path = write_config(tmp_path, VALID.format(hash=apikeys.hash_key("k")))
    config = load_config(path)
    assert config.gateway.contact == "311@example.city"
    assert config.jurisdictions[0].mapping == tmp_path / "city.yaml"
    url = config.jurisdictions[0].connector.settings["url"]
    assert url == f"sqlite:///{tmp_path / 'data' / 'tickets.db'}"


def test_check_lists_every_problem_with_file_line_and_key(tmp_path: Path, capsys) -> None:
    """The unset variable, the unknown key and the plain key: all in one run."""
    body = VALID.format(hash="plain-secret").replace("  contact:", "  contakt:")
    path = write_config(tmp_path, body)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:3: gateway.contakt: unknown key 'contakt'" in err
    assert f"{path}:2:3: gateway.contakt: environment variable CITY_CONTACT is not set" in err
    assert f"{path}:6:5: jurisdictions.0.api_keys: " in err and "not plain keys" in err


def test_check_reports_a_missing_environment_variable(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("CITY_CONTACT", raising=False)
    path = write_config(tmp_path, VALID.format(hash=apikeys.hash_key("k")))
    assert main(["check", "--config", str(path)]) == 2
    assert (
        "gateway.contact: environment variable CITY_CONTACT is not set" in capsys.readouterr().err
    )


def test_check_reports_a_broken_mapping(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CITY_CONTACT", "x")
    path = write_config(tmp_path, VALID.format(hash=apikeys.hash_key("k")))
    (tmp_path / "city.yaml").write_text("connector: sql\nservicez: []\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 1
    assert f"{tmp_path / 'city.yaml'}:2:1: servicez: unknown key" in capsys.readouterr().err


def test_duplicate_jurisdictions_are_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CITY_CONTACT", "x")
    body = VALID.format(hash=apikeys.hash_key("k"))
    body += body[body.index("  - id:") :]
    with pytest.raises(FileErrors, match=r"jurisdiction ids must be unique: example\.city"):
        load_config(write_config(tmp_path, body))


def test_delivery_settings_are_read_and_checked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CITY_CONTACT", "x")
    body = VALID.format(hash=apikeys.hash_key("k")).replace(
        "gateway:\n",
        "gateway:\n  worker:\n    mode: external\n    lease_seconds: 60\n"
        "    backoff: {base_seconds: 2, cap_seconds: 60, max_attempts: 5}\n",
    )
    body += "    sync_wait: 0.5\n    idempotency_param: attribute[fixmystreet_id]\n"
    config = load_config(write_config(tmp_path, body))
    worker = config.gateway.worker
    assert (worker.mode, worker.lease_seconds, worker.concurrency) == ("external", 60, 32)
    assert worker.backoff.policy().ceiling(10) == 60
    city = config.jurisdictions[0]
    assert (city.sync_wait, city.idempotency_param) == (0.5, "attribute[fixmystreet_id]")
    assert city.fingerprint_window == 600

    with pytest.raises(FileErrors, match=r"must exceed the longest a delivery to example\.city"):
        load_config(write_config(tmp_path, body.replace("lease_seconds: 60", "lease_seconds: 42")))
    with pytest.raises(FileErrors, match="0 < base_seconds <= cap_seconds"):
        load_config(write_config(tmp_path, body.replace("base_seconds: 2", "base_seconds: 90")))
    with pytest.raises(FileErrors, match="sync_wait"):
        load_config(write_config(tmp_path, body.replace("sync_wait: 0.5", "sync_wait: 31")))


def test_keys_new_prints_a_key_and_its_hash(capsys) -> None:
    assert main(["keys", "new", "--jurisdiction", "example.city"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    key, stored = lines[1], lines[3]
    assert apikeys.matches(key, (stored,))
    assert not apikeys.matches(key + "x", (stored,))


def test_embedded_key_is_minted_once_and_only_its_hash_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPEN311_API_KEY", raising=False)
    config, minted = embedded_config(tmp_path, "http://x")
    assert minted and minted not in (tmp_path / "api-key.hash").read_text()
    assert apikeys.matches(minted, tuple(config.jurisdictions[0].api_keys))
    again, minted_again = embedded_config(tmp_path, "http://x")
    assert minted_again is None
    assert again.jurisdictions[0].api_keys == config.jurisdictions[0].api_keys


def test_embedded_key_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPEN311_API_KEY", "chosen")
    config, minted = embedded_config(tmp_path, "http://x")
    assert minted is None and not (tmp_path / "api-key.hash").exists()
    assert apikeys.matches("chosen", tuple(config.jurisdictions[0].api_keys))
