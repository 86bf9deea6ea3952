"""Testing aids for connector authors: backend simulators on loopback."""
