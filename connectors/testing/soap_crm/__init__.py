"""CaseWorks, a simulated SOAP case-management system (CRM) on loopback.

`running_crm()` gives one on a free port for a test; `open311-gateway simulate soap-crm
--port P` runs one on its own, its WSDL at `http://127.0.0.1:P/?wsdl`.
"""

from connectors.testing.soap_crm.crm import Crm, CrmError
from connectors.testing.soap_crm.server import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    Auth,
    SoapCrm,
    running_crm,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "Auth",
    "Crm",
    "CrmError",
    "SoapCrm",
    "running_crm",
]
