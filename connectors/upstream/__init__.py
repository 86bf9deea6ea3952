"""The upstream connector: another Open311 GeoReport v2 server as the back office."""

from connectors.upstream.connector import UpstreamConnector

__all__ = ["UpstreamConnector"]
