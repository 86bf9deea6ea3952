"""The queue URL: its scheme picks the implementation; by default it is the store's file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import GatewayConfig, load_config
from gateway.queue import AmqpQueue, EmbeddedQueue, check_queue_url, open_queue
from gateway.yamlfile import FileErrors
from mappings import mapping_path


def write_config(folder: Path, gateway: str) -> Path:
    path = folder / "gateway.yaml"
    path.write_text(
        f"gateway:\n{gateway}jurisdictions:\n  - id: example.city\n"
        f"    mapping: {mapping_path('embedded.yaml')}\n",
        encoding="utf-8",
    )
    return path


def test_the_default_queue_is_in_the_default_store() -> None:
    assert GatewayConfig().queue_url == "sqlite:///open311-data/gateway.db"


def test_the_queue_follows_a_sqlite_store_into_its_file() -> None:
    config = GatewayConfig(store_url="sqlite:////srv/open311/gateway.db")
    assert config.queue_url == "sqlite:////srv/open311/gateway.db"


def test_a_store_that_is_not_a_file_leaves_the_default_queue() -> None:
    config = GatewayConfig(store_url="postgresql+asyncpg://gateway@db/open311")
    assert config.queue_url == "sqlite:///open311-data/queue.db"


def test_relative_queue_files_live_next_to_the_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "  store_url: sqlite:///state/gateway.db\n")
    assert load_config(path).gateway.queue_url == f"sqlite:///{tmp_path / 'state' / 'gateway.db'}"
    path = write_config(tmp_path, "  queue_url: sqlite:///spool/jobs.db\n")
    assert load_config(path).gateway.queue_url == f"sqlite:///{tmp_path / 'spool' / 'jobs.db'}"


def test_an_unsupported_scheme_is_a_located_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "  queue_url: redis://cache/\n")
    with pytest.raises(FileErrors) as raised:
        load_config(path)
    (message,) = raised.value.messages
    assert message.startswith(f"{path}:2:3: gateway.queue_url: ")
    assert "unsupported queue URL scheme 'redis'; supported: sqlite, amqp, amqps" in message


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "queue.db"])
def test_a_sqlite_queue_url_must_name_a_file(url: str) -> None:
    with pytest.raises(ValueError):
        check_queue_url(url)


def test_a_sqlite_url_opens_the_embedded_queue(tmp_path: Path) -> None:
    queue = open_queue(f"sqlite:///{tmp_path / 'queue.db'}")
    assert isinstance(queue, EmbeddedQueue)
    assert queue.path == tmp_path / "queue.db"


@pytest.mark.parametrize("url", ["amqp://", "amqp:///vhost", "amqps://:5671/"])
def test_a_rabbitmq_queue_url_must_name_a_host(url: str) -> None:
    with pytest.raises(ValueError, match="names its broker"):
        check_queue_url(url)


@pytest.mark.parametrize("url", ["amqp://gateway@rabbit:5672/open311", "amqps://rabbit/"])
def test_an_amqp_url_opens_the_rabbitmq_queue(url: str) -> None:
    queue = open_queue(url)
    assert isinstance(queue, AmqpQueue)
    assert queue.topology.work_queue == "open311.jobs"


def test_a_rabbitmq_queue_url_is_kept_as_written(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "  queue_url: amqp://gateway@rabbit/open311\n  queue_prefetch: 8\n"
    )
    gateway = load_config(path).gateway
    assert gateway.queue_url == "amqp://gateway@rabbit/open311"
    assert gateway.queue_prefetch == 8
