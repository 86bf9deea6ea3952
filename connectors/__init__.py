"""Connectors: transports to back offices, behind one typed contract (`connectors.base`)."""
