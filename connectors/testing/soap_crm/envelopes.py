"""SOAP 1.1 and 1.2 envelopes as CaseWorks reads and writes them, faults included, and
the WS-Security UsernameToken it accepts (plain text or digest password)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from lxml import etree

from connectors.testing.soap_crm.crm import CrmError
from connectors.testing.soap_crm.messages import NS

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPES = {SOAP11: "text/xml", SOAP12: "application/soap+xml"}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


class NotSoap(Exception):
    """The body is not a SOAP envelope: no version is known to answer a fault in."""


@dataclass(frozen=True, slots=True)
class Envelope:
    version: str
    """The envelope namespace, SOAP11 or SOAP12: the answer is in the same version."""
    header: etree._Element | None
    request: etree._Element
    """The body's one element: the operation asked for."""


def read_envelope(body: bytes) -> Envelope:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotSoap(f"not XML: {exc}") from None
    name = etree.QName(root)
    if name.localname != "Envelope" or name.namespace not in CONTENT_TYPES:
        raise NotSoap("not a SOAP 1.1 or 1.2 envelope")
    version = name.namespace
    soap_body = root.find(f"{{{version}}}Body")
    requests = [] if soap_body is None else [e for e in soap_body if isinstance(e.tag, str)]
    if len(requests) != 1:
        raise NotSoap("the SOAP body must hold one element")
    return Envelope(version, root.find(f"{{{version}}}Header"), requests[0])


def envelope(version: str, payload: etree._Element) -> bytes:
    root = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version})
    etree.SubElement(root, f"{{{version}}}Body").append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def fault(version: str, error: CrmError) -> bytes:
    """The fault for a refusal: Client/Sender or Server/Receiver, CaseWorks' error code in
    the detail (and, in SOAP 1.2, as the subcode)."""
    root = etree.Element(f"{{{version}}}Envelope", nsmap={"soap": version, "cw": NS})
    body = etree.SubElement(root, f"{{{version}}}Body")
    node = etree.SubElement(body, f"{{{version}}}Fault")
    if version == SOAP11:
        etree.SubElement(node, "faultcode").text = "soap:Client" if error.sender else "soap:Server"
        etree.SubElement(node, "faultstring").text = error.message
        detail = etree.SubElement(node, "detail")
    else:
        code = etree.SubElement(node, f"{{{version}}}Code")
        value = "soap:Sender" if error.sender else "soap:Receiver"
        etree.SubElement(code, f"{{{version}}}Value").text = value
        subcode = etree.SubElement(code, f"{{{version}}}Subcode")
        etree.SubElement(subcode, f"{{{version}}}Value").text = f"cw:{error.code}"
        reason = etree.SubElement(node, f"{{{version}}}Reason")
        text = etree.SubElement(reason, f"{{{version}}}Text")
        text.set(XML_LANG, "en")
        text.text = error.message
        detail = etree.SubElement(node, f"{{{version}}}Detail")
    crm_error = etree.SubElement(detail, f"{{{NS}}}CrmError")
    etree.SubElement(crm_error, f"{{{NS}}}Code").text = error.code
    if error.field is not None:
        etree.SubElement(crm_error, f"{{{NS}}}Field").text = error.field
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@dataclass(frozen=True, slots=True)
class UsernameToken:
    username: str
    password: str
    """The password, or its digest when `digest`."""
    digest: bool
    nonce: bytes
    created: str

    def matches(self, username: str, password: str) -> bool:
        expected = password
        if self.digest:
            hashed = hashlib.sha1(self.nonce + self.created.encode() + password.encode())
            expected = base64.b64encode(hashed.digest()).decode()
        return hmac.compare_digest(self.username, username) and hmac.compare_digest(
            self.password, expected
        )


def username_token(header: etree._Element | None) -> UsernameToken | None:
    """The WS-Security UsernameToken of an envelope's header, if it has one."""
    if header is None:
        return None
    token = header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    password = None if token is None else token.find(f"{{{WSSE}}}Password")
    if token is None or password is None:
        return None
    nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
    return UsernameToken(
        username=token.findtext(f"{{{WSSE}}}Username") or "",
        password=password.text or "",
        digest=password.get("Type") == PASSWORD_DIGEST,
        nonce=base64.b64decode(nonce) if nonce else b"",
        created=token.findtext(f"{{{WSU}}}Created") or "",
    )
