"""CaseWorks, a simulated SOAP case-management system (CRM) on loopback.

`async with SoapCrm() as crm` runs one on a free loopback port for a test or the
conformance kit (`crm.url`, `crm.wsdl_url`, and its knobs `latency`, `fault_rate`,
`outage`); `open311-gateway simulate soap-crm --port P` runs one on its own, its WSDL at
`http://127.0.0.1:P/?wsdl`.
"""

from connectors.testing.soap_crm.crm import Crm, CrmError
from connectors.testing.soap_crm.server import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    Auth,
    SoapCrm,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "Auth",
    "Crm",
    "CrmError",
    "SoapCrm",
]
