"""The CLI loads the back-office simulators only for `simulate`: `serve` and `worker`
would otherwise load and keep zeep, trustme and cryptography for nothing."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from gateway.cli import _parser
_parser(simulators={simulators})
print(sorted(name for name in ("zeep", "trustme") if name in sys.modules))
"""


def loaded(simulators: bool) -> str:
    code = CHECK.format(simulators=simulators)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_only_the_simulate_command_loads_the_simulators() -> None:
    assert loaded(simulators=False) == "[]"
    assert loaded(simulators=True) == "['trustme', 'zeep']"
