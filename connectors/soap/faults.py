"""SOAP faults turned into the connector's typed errors by the mapping's rules.

A rule matches a fault by its code (SOAP 1.1 `faultcode`, SOAP 1.2 `Code/Value` or any
subcode, compared by local name), a pattern searched in its message, a pattern
searched in the text of its detail, or several of these together. The first rule that
matches decides; a fault no rule matches is `unclassified_faults`. The fault's text is
kept in the error's reason (for the dead letter), personal data taken out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from zeep.exceptions import Fault

from connectors.base import ConnectorError, NotFoundError, PermanentError, TransientError
from connectors.redaction import redacted
from connectors.soap.schema import FaultRule


class RecordExists(PermanentError):
    """The back office refused a create because a record with its key exists: the
    connector then returns that record."""


_ERRORS: dict[str, type[ConnectorError]] = {
    "transient": TransientError,
    "permanent": PermanentError,
    "not_found": NotFoundError,
    "exists": RecordExists,
}


def _local(code: object) -> str | None:
    """The local name of a fault code: `soap:Client` and `{ns}Client` are `Client`."""
    if code is None:
        return None
    text = code.localname if isinstance(code, etree.QName) else str(code)
    return text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class FaultText:
    codes: tuple[str, ...]
    message: str
    detail: str

    @classmethod
    def of(cls, fault: Fault) -> FaultText:
        codes = [_local(fault.code), *(_local(code) for code in fault.subcodes or ())]
        detail = fault.detail
        if isinstance(detail, etree._Element):
            detail_text = " ".join(text.strip() for text in detail.itertext() if text.strip())
        else:
            detail_text = ""  # zeep puts a whole non-SOAP answer here: never shown
        return cls(
            tuple(code for code in codes if code), (fault.message or "").strip(), detail_text
        )

    def describe(self, operation: str) -> str:
        code = "/".join(self.codes) or "no code"
        text = f"{operation}: SOAP fault {code}: {self.message or 'no message'}"
        if self.detail:
            text += f" ({self.detail})"
        return redacted(text)


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    code: str | None
    message: re.Pattern[str] | None
    detail: re.Pattern[str] | None
    error: type[ConnectorError]

    def matches(self, fault: FaultText) -> bool:
        return (
            (self.code is None or self.code in fault.codes)
            and (self.message is None or self.message.search(fault.message) is not None)
            and (self.detail is None or self.detail.search(fault.detail) is not None)
        )


class FaultRules:
    def __init__(self, rules: Sequence[FaultRule], unclassified: str) -> None:
        self._rules = tuple(
            _CompiledRule(
                _local(rule.code),
                re.compile(rule.message) if rule.message is not None else None,
                re.compile(rule.detail) if rule.detail is not None else None,
                _ERRORS[rule.then],
            )
            for rule in rules
        )
        self._unclassified = _ERRORS[unclassified]

    def error(self, operation: str, fault: Fault) -> ConnectorError:
        text = FaultText.of(fault)
        kind = next((rule.error for rule in self._rules if rule.matches(text)), None)
        return (kind or self._unclassified)(text.describe(operation))
