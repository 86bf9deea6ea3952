"""Backend simulators (real servers on loopback) and the connector conformance kit."""
