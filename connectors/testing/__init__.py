"""Tools for testing connectors: the conformance kit (`connectors.testing.plugin`) and
back-office simulators on loopback."""
