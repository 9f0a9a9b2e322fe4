"""The one JSON Schema checker that protocols and verbs share."""

from __future__ import annotations

from mcp_bridge.validation import accepts_null, schema_error, violation

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
}


def test_a_schema_violation_names_the_place() -> None:
    assert violation({"n": "x"}, SCHEMA) == "at n: 'x' is not of type 'integer'"


def test_a_value_that_fits_has_no_violation() -> None:
    assert violation({"n": 3}, SCHEMA) is None


def test_null_acceptance_follows_the_schema() -> None:
    assert accepts_null({"type": ["integer", "null"]})
    assert not accepts_null({"type": "integer"})


def test_an_invalid_schema_says_why() -> None:
    assert schema_error({"type": "nonsense"}) is not None
    assert schema_error(SCHEMA) is None
