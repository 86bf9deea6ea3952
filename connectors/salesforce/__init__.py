"""The Salesforce connector: Cases (or any sObject) through simple-salesforce, on threads."""

from connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector"]
