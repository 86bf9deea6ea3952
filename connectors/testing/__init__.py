"""Tools for testing connectors: the conformance kit (`connectors.testing.plugin`)."""
