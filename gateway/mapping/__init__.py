"""The declarative mapping engine: YAML mapping files compiled to plain callables.

A mapping says what a backend's fields mean in Open311 terms: how a new request
becomes a backend record and back, the status tables both ways, the service
catalogue. `load_mapping` checks a file completely and compiles it once; the
`CompiledMapping` it returns is applied on every request.
"""

from gateway.mapping.compiled import CompiledMapping
from gateway.mapping.context import MappingContext
from gateway.mapping.errors import MappingError
from gateway.mapping.loader import declared_connector, load_mapping

__all__ = [
    "CompiledMapping",
    "MappingContext",
    "MappingError",
    "declared_connector",
    "load_mapping",
]
