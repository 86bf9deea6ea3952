"""deploy/, checked without Docker: the configurations load with the project's own loader
and so do their mappings, the image and compose run only commands the CLI accepts, every
service has a healthcheck, and no secret is written in any file."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connectors.registry import connector_class
from gateway.cli import _parser
from gateway.config import Config, GatewayConfig, JurisdictionConfig, load_config
from gateway.mapping import load_mapping
from gateway.queue import check_queue_url
from mappings import FOLDER as SHIPPED_MAPPINGS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
IMAGE_CONFIG = DEPLOY / "image" / "gateway.yaml"
SHARED_CONFIG = DEPLOY / "config" / "gateway.yaml"
TICKETING_SCHEMAS = DEPLOY / "postgres" / "ticketing"

CONFIG_IN_IMAGE = "/etc/open311/gateway.yaml"
MAPPINGS_IN_IMAGE = Path("/usr/share/open311/mappings")
"""Where the image links the installed package's mappings (see the Dockerfile)."""
DATA_IN_IMAGE = "/var/lib/open311"

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|PASS|SECRET|TOKEN|KEY", re.IGNORECASE)
URL_PASSWORD = re.compile(r"[a-z+]+://[^:/@\s]+:([^@\s]+)@")
TEXT_SUFFIXES = {".yaml", ".md", ".sql", ".sh", ".example"}
TEXT_NAMES = {"Dockerfile"}


def read_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def instruction(keyword: str) -> str:
    [arguments] = [arguments for found, arguments in final_stage() if found == keyword]
    return arguments


def commands() -> set[str]:
    """The CLI's subcommands, as its own parser knows them."""
    actions = _parser(simulators=True)._actions
    [subcommands] = [action for action in actions if isinstance(action, argparse._SubParsersAction)]
    return set(subcommands.choices)


def parallel_work_missing() -> list[str]:
    """Parts of the several-instance set-up that are not on this branch yet (issue 4)."""
    missing = []
    try:
        check_queue_url("amqp://user:secret@rabbitmq:5672/")
    except ValueError:
        missing.append("the RabbitMQ queue (queue_url amqp://)")
    if "worker" not in GatewayConfig.model_fields:
        missing.append("gateway.worker settings")
    if "sync_wait" not in JurisdictionConfig.model_fields:
        missing.append("jurisdictions' sync_wait")
    if "worker" not in commands():
        missing.append("the worker command")
    return missing


MISSING = parallel_work_missing()
needs_parallel_work = pytest.mark.skipif(
    bool(MISSING), reason=f"not on this branch yet: {', '.join(MISSING)}"
)


def services() -> dict[str, dict[str, Any]]:
    return read_yaml(COMPOSE)["services"]


def built_here(service: dict[str, Any]) -> bool:
    """Whether a compose service runs the image of deploy/Dockerfile."""
    build = service.get("build") or {}
    context = COMPOSE.parent / build.get("context", ".")
    return (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


def referenced(node: Any) -> set[str]:
    """The environment variables that the values of a parsed YAML file refer to."""
    if isinstance(node, dict):
        return set().union(*map(referenced, node.values()))
    if isinstance(node, list):
        return set().union(*map(referenced, node))
    return set(ENV_REFERENCE.findall(node)) if isinstance(node, str) else set()


def env_names(path: Path) -> set[str]:
    """Every environment variable a configuration reads: `${NAME}` and `api_key_env`."""
    config = read_yaml(path)
    keys = {j["api_key_env"] for j in config["jurisdictions"] if "api_key_env" in j}
    return referenced(config) | keys


def env_example() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return dict(pairs)


def text_files() -> list[Path]:
    return [
        path
        for path in DEPLOY.rglob("*")
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES)
    ]


def load_with_dummy_env(path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    for name in env_names(path):
        monkeypatch.setenv(name, f"dummy-{name.lower()}")
    return load_config(path)


def in_repository(mapping: Path) -> Path:
    """A mapping path as the image sees it, found in this checkout."""
    if mapping.is_relative_to(MAPPINGS_IN_IMAGE):
        return SHIPPED_MAPPINGS / mapping.relative_to(MAPPINGS_IN_IMAGE)
    return mapping


def check_mappings(config: Config) -> None:
    """Every mapping the configuration names loads, for a connector that is installed."""
    for jurisdiction in config.jurisdictions:
        mapping = load_mapping(in_repository(jurisdiction.mapping))
        connector_class(jurisdiction.connector.kind or mapping.connector)


def test_image_default_keeps_its_files_in_the_data_volume(monkeypatch) -> None:
    config = load_with_dummy_env(IMAGE_CONFIG, monkeypatch)
    check_mappings(config)
    assert json.loads(instruction("VOLUME")) == [DATA_IN_IMAGE]
    urls = [config.gateway.store_url, config.gateway.queue_url]
    urls += [j.connector.settings["url"] for j in config.jurisdictions]
    assert all(url.startswith(f"sqlite:///{DATA_IN_IMAGE}/") for url in urls), urls


@needs_parallel_work
def test_several_instances_share_postgresql_and_rabbitmq(monkeypatch) -> None:
    config = load_with_dummy_env(SHARED_CONFIG, monkeypatch)
    check_mappings(config)
    assert config.gateway.store_url.startswith("postgresql://")
    assert config.gateway.queue_url.startswith("amqp://")
    assert config.gateway.worker.mode == "external"
    assert len(config.jurisdictions) == 2
    assert len({j.mapping for j in config.jurisdictions}) == 2


@pytest.mark.parametrize(
    "mapping", sorted((DEPLOY / "config" / "mappings").glob("*.yaml")), ids=lambda p: p.name
)
def test_deploy_mappings_load(mapping: Path) -> None:
    load_mapping(mapping)


def test_the_image_links_the_shipped_mappings_where_configurations_name_them() -> None:
    links = [args for keyword, args in final_stage() if keyword == "RUN" and "ln -s" in args]
    assert any(f" {MAPPINGS_IN_IMAGE}" in args for args in links), links


def test_containers_get_every_variable_the_shared_configuration_reads() -> None:
    for name in ("gateway", "worker"):
        assert set(services()[name]["environment"]) == env_names(SHARED_CONFIG), name


def test_ticketing_urls_name_databases_the_init_script_creates() -> None:
    created = {
        f"tickets_{schema.stem.replace('-', '_')}" for schema in TICKETING_SCHEMAS.glob("*.sql")
    }
    named = {
        j["connector"]["settings"]["url"].rsplit("/", 1)[1]
        for j in read_yaml(SHARED_CONFIG)["jurisdictions"]
    }
    assert named == created


def test_the_image_serves_its_own_configuration_by_default() -> None:
    assert json.loads(instruction("ENTRYPOINT")) == ["open311-gateway"]
    command = json.loads(instruction("CMD"))
    assert command[0] == "serve"
    args = _parser(simulators=True).parse_args(command)
    assert str(args.config) == CONFIG_IN_IMAGE
    assert args.host == "0.0.0.0"
    copies = [args.split() for keyword, args in final_stage() if keyword == "COPY"]
    assert ["deploy/image/gateway.yaml", CONFIG_IN_IMAGE] in copies


def test_the_final_stage_runs_unprivileged_and_builds_nothing() -> None:
    assert instruction("USER") not in ("root", "0")
    installs = [args for keyword, args in final_stage() if keyword == "RUN" and "pip" in args]
    assert installs and all("--no-index" in args and "from=wheels" in args for args in installs)
    assert len([keyword for keyword, _ in dockerfile_instructions() if keyword == "FROM"]) == 2


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_compose_runs_real_commands_on_the_mounted_configuration(name: str) -> None:
    service = services()[name]
    assert built_here(service)
    assert "./config:/etc/open311:ro" in service["volumes"]
    if service["command"][0] not in commands():
        pytest.skip(f"the {service['command'][0]} command is not on this branch yet")
    args = _parser(simulators=True).parse_args(service["command"])
    assert str(args.config) == CONFIG_IN_IMAGE


def test_every_service_has_a_healthcheck_and_waits_for_healthy_ones() -> None:
    assert "http://127.0.0.1:8080/healthz" in instruction("HEALTHCHECK")
    compose = services()
    for name, service in compose.items():
        healthcheck = service.get("healthcheck")
        if built_here(service) and healthcheck is None:
            continue  # the image's probe of /healthz
        if healthcheck == {"disable": True}:
            assert service["command"][0] == "worker", f"{name}: only the worker has no port"
            continue
        assert healthcheck and healthcheck["test"], name
    for name, service in compose.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in compose[dependency], dependency


def test_no_secret_is_written_in_a_file() -> None:
    for path in text_files():
        for password in URL_PASSWORD.findall(path.read_text(encoding="utf-8")):
            assert ENV_REFERENCE.fullmatch(password), f"{path.name}: a password in a URL"
    for name, service in services().items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable):
                assert ENV_REFERENCE.fullmatch(str(value)), f"{name}: {variable} is written"
    for config in (SHARED_CONFIG, IMAGE_CONFIG):
        for jurisdiction in read_yaml(config)["jurisdictions"]:
            assert not jurisdiction.get("api_keys") and jurisdiction["api_key_env"], config.name
    for variable, value in env_example().items():
        if SECRET_NAME.search(variable):
            assert value == "", f".env.example: {variable} has a value"


def test_env_example_names_every_variable_compose_reads() -> None:
    assert referenced(read_yaml(COMPOSE)) == set(env_example())


def test_dotenv_files_never_reach_the_build_context() -> None:
    ignored = (DEPLOY.parent / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "**/.env" in ignored and ".git" in ignored
