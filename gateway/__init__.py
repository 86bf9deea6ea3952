"""open311-gateway: a standard Open311 GeoReport v2 API in front of legacy back offices."""

__version__ = "0.1.0"
