"""A Salesforce simulator: OAuth, sObjects, a SOQL subset and describe, over TLS.

Start it from a test or a fixture with `running_salesforce()`, or from the shell with
`open311-gateway simulate salesforce --port P [--certs-dir DIR]`.
"""

from connectors.testing.salesforce.app import Credentials, Knobs, SalesforceSimulator
from connectors.testing.salesforce.org import Fault, Org
from connectors.testing.salesforce.server import RunningSimulator, running_salesforce

__all__ = [
    "Credentials",
    "Fault",
    "Knobs",
    "Org",
    "RunningSimulator",
    "SalesforceSimulator",
    "running_salesforce",
]
