"""Mappings shipped with the gateway: the embedded default and example deployments."""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def mapping_path(name: str) -> Path:
    return FOLDER / name
