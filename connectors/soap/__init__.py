"""The SOAP connector: a back office described by a WSDL, through zeep's async client."""

from connectors.soap.connector import SoapConnector

__all__ = ["SoapConnector"]
