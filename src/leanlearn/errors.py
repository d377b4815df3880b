"""One family of errors, each with a message a line manager can act on.

Every error raised for a user mistake is a :class:`LeanlearnError`; the CLI prints its message on one line and
exits with code 2. Anything else is a bug in leanlearn and keeps its traceback.
"""

from __future__ import annotations


class LeanlearnError(Exception):
    """Base class of every error caused by input a user can fix."""


class DataError(LeanlearnError):
    """A data file cannot be read, or a column does not hold what is expected."""


class SchemaError(LeanlearnError):
    """A table does not follow the column contract it is used under."""


class ExpressionError(LeanlearnError):
    """A derived-feature expression is malformed, unsafe, or names an unknown column."""


class PackError(LeanlearnError):
    """A rule pack is malformed, has the wrong schema, or its content hash does not match."""


class RegistryError(LeanlearnError):
    """The MLflow registry cannot store or return a rule pack."""


class PipelineError(LeanlearnError):
    """A pipeline YAML file is malformed."""


class MappingError(LeanlearnError):
    """A fusion pipeline (mapping of sources onto the canonical tables) is malformed."""
