"""The one error a compiled mapping raises while it is applied."""

from __future__ import annotations


class MappingError(Exception):
    """A request or record the mapping cannot translate.

    Raised at apply time only (load-time problems are `FileErrors`). The message names
    fields, tables and codes, never a person's data, so it is safe to answer and log.
    """
