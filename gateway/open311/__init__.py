"""GeoReport v2 protocol: models, dialect parsing, validation and rendering."""
