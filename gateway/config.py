"""Gateway configuration: one YAML file naming the jurisdictions and their mappings.

Values may reference environment variables as `${NAME}` so secrets stay out of files.
Paths inside the file (mappings, data) are relative to the file itself.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway import apikeys
from gateway.queue import Backoff, check_queue_url, queue_url_in_store
from gateway.queue.amqp import DEFAULT_PREFETCH
from gateway.yamlfile import FileErrors, YamlDocument

CALL_GRACE_SECONDS = 1.0
"""Extra time allowed past a connector's own timeout before the gateway gives up a call."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectorConfig(_Section):
    kind: str | None = None
    """Connector kind; defaults to the one the mapping names."""
    settings: dict[str, Any] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds every backend call may take before it counts as a transient failure."""
    concurrency: int = Field(default=16, ge=1, le=1000)
    """Calls in flight to the backend at most; more wait for a turn."""
    rate_limit: float | None = Field(default=None, gt=0)
    """Calls per second at most, when the back office needs it."""
    breaker_threshold: int = Field(default=5, ge=1)
    """Consecutive transient failures that open the circuit breaker."""
    breaker_reset: float = Field(default=30.0, gt=0)
    """Seconds the breaker stays open before a probe call."""


class JurisdictionConfig(_Section):
    id: str = Field(min_length=1)
    name: str = ""
    mapping: Path
    api_keys: list[str] = Field(default_factory=list)
    """Salted hashes from `open311-gateway keys new`, never the keys themselves."""
    api_key_env: str | None = None
    """An environment variable holding a plain key (for containers); hashed at load."""
    connector: ConnectorConfig = Field(default_factory=ConnectorConfig)
    sync_wait: float = Field(default=2.0, ge=0, le=30)
    """Seconds a POST to a realtime service waits for the backend's id before it answers
    with a token instead; batch services always answer with a token at once."""
    idempotency_param: str | None = Field(default=None, min_length=1)
    """A POST parameter that identifies a report in the client's system (for example
    `attribute[fixmystreet_id]`): a repeat of its value is not a new request."""
    fingerprint_window: float = Field(default=600.0, gt=0)
    """Seconds within which the same request sent again without any key is a repeat."""

    @field_validator("api_keys")
    @classmethod
    def _hashes_only(cls, hashes: list[str]) -> list[str]:
        for stored in hashes:
            if not apikeys.is_valid_hash(stored):
                raise ValueError("api_keys holds hashes ('sha256$salt$digest'), not plain keys")
        return hashes


_BACKOFF = Backoff()


class BackoffConfig(_Section):
    base_seconds: float = _BACKOFF.base_seconds
    cap_seconds: float = _BACKOFF.cap_seconds
    max_attempts: int = _BACKOFF.max_attempts

    @model_validator(mode="after")
    def _valid_policy(self) -> BackoffConfig:
        self.policy()  # Backoff checks its own bounds; its ValueError names the problem
        return self

    def policy(self) -> Backoff:
        return Backoff(self.base_seconds, self.cap_seconds, self.max_attempts)


class WorkerMode(StrEnum):
    IN_PROCESS = "in_process"
    """The gateway delivers the jobs it queues itself."""
    EXTERNAL = "external"
    """Separate `open311-gateway worker` processes deliver them."""


class WorkerConfig(_Section):
    mode: WorkerMode = WorkerMode.IN_PROCESS
    concurrency: int = Field(default=32, ge=1, le=10_000)
    """Deliveries in flight at once across all backends, each until its outcome is
    stored; each backend's own `concurrency` and `rate_limit` still apply."""
    lease_seconds: float = Field(default=120.0, gt=0)
    """How long a job stays with the worker delivering it before another may take it."""
    poll_seconds: float = Field(default=0.1, gt=0, le=10)
    """How often an idle worker looks for work queued by another process."""
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)
    """Delays between deliveries of a job that failed transiently, and how many."""


class GatewayConfig(_Section):
    base_url: str = "http://127.0.0.1:8080"
    """The public address clients use; discovery advertises it."""
    base_path: str = ""
    """A prefix the routes live under, e.g. `/open311/v2`."""
    contact: str = "Contact the city's 311 service."
    key_service: str = "Ask the city's 311 service for an API key."
    changeset: AwareDatetime | None = None
    """When the configuration last changed; defaults to the newest file's mtime."""
    environment: str = Field(default="production", pattern="^(production|test)$")
    store_url: str = "sqlite:///open311-data/gateway.db"
    queue_url: str = "sqlite:///open311-data/queue.db"
    """Where accepted jobs wait for the worker; by default in a SQLite store's own file
    (this file is the default for a store that is not SQLite)."""
    queue_prefetch: int = Field(default=DEFAULT_PREFETCH, ge=1, le=1000)
    """RabbitMQ only: jobs a worker holds unacknowledged at most, about the backend's
    concurrency. Times the slowest backend call, it must stay well below RabbitMQ's
    consumer timeout (30 min by default), past which the broker takes the jobs back."""
    queue_prefix: str = Field(default="open311", pattern=r"^[A-Za-z0-9_.-]+$")
    """RabbitMQ only: the start of every exchange and queue name, so several gateways
    (or test runs) can share one broker without sharing jobs."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    access_log: bool = True
    worker: WorkerConfig = Field(default_factory=WorkerConfig)

    @model_validator(mode="before")
    @classmethod
    def _queue_in_store(cls, data: Any) -> Any:
        if isinstance(data, dict) and "queue_url" not in data:
            store_url = data.get("store_url", cls.model_fields["store_url"].default)
            in_store = queue_url_in_store(str(store_url))
            if in_store is not None:
                return {**data, "queue_url": in_store}
        return data

    @field_validator("queue_url")
    @classmethod
    def _supported_queue(cls, url: str) -> str:
        return check_queue_url(url)

    @field_validator("base_path")
    @classmethod
    def _normalise_base_path(cls, path: str) -> str:
        path = path.strip("/")
        return f"/{path}" if path else ""


class Config(_Section):
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    jurisdictions: list[JurisdictionConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        ids = [j.id for j in self.jurisdictions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"jurisdiction ids must be unique: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _leases_outlast_deliveries(self) -> Config:
        """A job must not be handed to another worker while its delivery may still run."""
        lease = self.gateway.worker.lease_seconds
        for jurisdiction in self.jurisdictions:
            longest = longest_delivery(jurisdiction.connector.timeout)
            if lease <= longest:
                raise ValueError(
                    f"gateway.worker.lease_seconds ({lease:g}) must exceed the longest a "
                    f"delivery to {jurisdiction.id} may take with its connector timeout "
                    f"({jurisdiction.connector.timeout:g} s): {longest:g} s"
                )
        return self

    def changeset(self, files: list[Path]) -> datetime:
        if self.gateway.changeset is not None:
            return self.gateway.changeset
        newest = max((f.stat().st_mtime for f in files if f.exists()), default=0.0)
        return datetime.fromtimestamp(int(newest), UTC)


def longest_delivery(timeout: float) -> float:
    """A delivery makes at most two backend calls (a lookup by key, then the create), each
    waiting up to `timeout` for a turn and running up to `timeout` plus the grace."""
    return 2 * (2 * timeout + CALL_GRACE_SECONDS)


def load_config(path: str | Path) -> Config:
    """Load and validate a config file; raises `FileErrors` listing every problem."""
    path = Path(path)
    document = YamlDocument.load(path)
    config = document.validate(Config, expand_env=True)
    base = path.resolve().parent
    errors = []
    for index, jurisdiction in enumerate(config.jurisdictions):
        jurisdiction.mapping = (base / jurisdiction.mapping).resolve()
        name = jurisdiction.api_key_env
        if name is None:
            continue
        if not os.environ.get(name):
            loc = ("jurisdictions", index, "api_key_env")
            errors.append(
                f"{document.locate(loc)}: {'.'.join(map(str, loc))}: "
                f"environment variable {name} is not set"
            )
        else:
            jurisdiction.api_keys.append(apikeys.hash_key(os.environ[name]))
    if errors:
        raise FileErrors(errors)
    _resolve_sqlite_paths(config, base)
    return config


def _resolve_sqlite_paths(config: Config, base: Path) -> None:
    """Relative SQLite files live next to the config, wherever the gateway was started."""
    config.gateway.store_url = resolve_sqlite_url(config.gateway.store_url, base)
    config.gateway.queue_url = resolve_sqlite_url(config.gateway.queue_url, base)
    for jurisdiction in config.jurisdictions:
        settings = jurisdiction.connector.settings
        if isinstance(settings.get("url"), str):
            settings["url"] = resolve_sqlite_url(settings["url"], base)


def resolve_sqlite_url(url: str, base: Path) -> str:
    prefix, sep, file = url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or not file or file.startswith("/"):
        return url
    return f"{prefix}:///{(base / file).resolve()}"
