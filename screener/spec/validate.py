"""Validate loaded YAML/JSON against a shipped JSON Schema.

Errors are reported the way python-jsonschema's ``best_match`` would pick them,
then located with the file's line map: ``rules.yaml:42: criteria[3].test: ...``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance

from screener.errors import InputError
from screener.yamlio import LineMap


@cache
def schema(name: str) -> dict[str, Any]:
    """Load a shipped schema by file name (``rules.schema.json``...)."""
    text = resources.files("screener.spec").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=FormatChecker())


@cache
def _fast_validator(name: str) -> Any:
    # jsonschema-rs (Rust) answers "valid?" in microseconds where python-jsonschema
    # takes milliseconds per patient; python-jsonschema still writes the messages.
    return jsonschema_rs.validator_for(schema(name), validate_formats=True)


def _message(error: ValidationError) -> str:
    # For oneOf/anyOf the top message lists the whole instance; the deepest
    # relevant sub-error says what a person has to change.
    if error.context:
        deepest = best_match(error.context)
        if deepest is not None:
            return deepest.message
    return error.message


def schema_errors(
    data: Any, schema_name: str, lines: LineMap, error_class: type[InputError]
) -> list[InputError]:
    """All schema violations, most relevant first, each with file, line and field."""
    if _fast_validator(schema_name).is_valid(data):
        return []
    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(data), key=relevance)
    out: list[InputError] = []
    for error in errors:
        path = list(error.absolute_path)
        if error.context:
            inner = best_match(error.context)
            if inner is not None:
                path = list(inner.absolute_path)
        out.append(error_class(_message(error), lines.locate(path)))
    return out
