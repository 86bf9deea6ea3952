"""Debug-level wire logs of SOAP calls, with personal data redacted.

A zeep plugin logs each envelope sent and received (`soap_sent`, `soap_received`) when
the logger is enabled for debug. Every text in the envelope is replaced by `[redacted]`
except in the elements the mapping's `wire_log` names (case numbers, statuses, codes:
what helps to debug without naming anyone); credentials of a WS-Security header are
redacted whatever it names. HTTP headers are never logged: they carry the credentials.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Any

from lxml import etree
from zeep import Plugin

from gateway.logs import get_logger

log = get_logger(__name__)

REDACTED = "[redacted]"
ALWAYS_REDACTED = frozenset({"Username", "Password", "Nonce"})


class WireLog(Plugin):
    def __init__(self, shown: Iterable[str]) -> None:
        self._shown = frozenset(shown) - ALWAYS_REDACTED

    def egress(
        self, envelope: etree._Element, http_headers: dict[str, str], operation: Any, _: Any
    ) -> tuple[etree._Element, dict[str, str]]:
        if log.is_enabled_for(logging.DEBUG):
            log.debug("soap_sent", operation=operation.name, envelope=self.redact(envelope))
        return envelope, http_headers

    def ingress(
        self, envelope: etree._Element, http_headers: Any, operation: Any
    ) -> tuple[etree._Element, Any]:
        if log.is_enabled_for(logging.DEBUG):
            log.debug("soap_received", operation=operation.name, envelope=self.redact(envelope))
        return envelope, http_headers

    def redact(self, envelope: etree._Element) -> str:
        """The envelope as text, every value but the shown ones redacted."""
        shown = copy.deepcopy(envelope)
        for element in shown.iter():
            if element.text and element.text.strip():
                named = isinstance(element.tag, str)  # not a comment
                if not named or etree.QName(element).localname not in self._shown:
                    element.text = REDACTED
            if element.tail and element.tail.strip():
                element.tail = REDACTED
        return etree.tostring(shown, encoding="unicode")
