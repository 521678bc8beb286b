"""The request models, built from a backend's input schema: validation (422 naming the field) and /docs.

A column name need not be a Python identifier ("sepal length (cm)"), so each field is ``f<i>`` aliased to its
column; errors and the OpenAPI schema use the column's name.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, ValidationError, create_model

# The JSON types of each schema type. A category keeps its JSON type (3 and "3" are the same level: levels are
# compared as text), a number accepts a numeric string ("3.5"), a boolean yes/no and 1/0 (pydantic's lax mode).
# An exported folder's schema.json names a category "string" with its "categories", free text "text" and an
# image "image"; an image is base64 in JSON for both kinds of folder.
CATEGORY = str | int | float | bool
TYPES: dict[str, Any] = {
    "number": float,
    "integer": int,
    "boolean": bool,
    "category": CATEGORY,
    "date": str,
    "string": str,
    "text": str,
    "base64": Base64Bytes,
    "image": Base64Bytes,
}


def record_model(schema: dict[str, Any]) -> tuple[type[BaseModel], dict[str, str]]:
    """The model of one record, and its attribute → column name map. Unknown keys are ignored (an id, say)."""
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    for i, spec in enumerate(schema.get("fields", [])):
        annotation = CATEGORY if "categories" in spec else TYPES.get(str(spec.get("type")), Any)
        if spec.get("nullable", True) and annotation is not Any:
            annotation = annotation | None
        extra = {k: spec[k] for k in ("categories", "format") if k in spec}
        info = Field(
            ... if spec.get("required", True) else None,
            alias=str(spec["name"]),
            description=spec.get("description"),
            json_schema_extra=extra or None,
        )
        fields[f"f{i}"], names[f"f{i}"] = (annotation, info), str(spec["name"])
    model = create_model("Record", __config__=ConfigDict(extra="ignore", populate_by_name=False), **fields)
    return model, names


def request_model(record: type[BaseModel], max_rows: int) -> type[BaseModel]:
    """``{"records": [record, ...]}`` with one to ``max_rows`` records."""
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(
            list[record],  # type: ignore[valid-type]
            Field(min_length=1, max_length=max_rows, description=f"rows to predict (1 to {max_rows})"),
        ),
    )


def plain_records(request: BaseModel, names: dict[str, str]) -> list[dict[str, Any]]:
    """The validated records as column → value dicts (bytes stay bytes: no base64 round trip)."""
    return [{names[attr]: getattr(row, attr) for attr in names} for row in request.records]  # type: ignore[attr-defined]


def error_list(
    exc: ValidationError, fields: set[str] | None = None, prefix: tuple[str | int, ...] = ("body",)
) -> list[dict[str, Any]]:
    """FastAPI's 422 shape (type, loc, msg), the input only when it is a short plain value; a missing field is
    followed by the record's unknown key that looks like it (``fields``: the known ones)."""
    errors = []
    for error in exc.errors(include_url=False, include_context=False):
        item: dict[str, Any] = {"type": error["type"], "loc": [*prefix, *error["loc"]], "msg": error["msg"]}
        value = error.get("input")
        if error["type"] == "missing" and isinstance(value, dict) and error["loc"]:
            item["msg"] += _misspelt(str(error["loc"][-1]), [str(k) for k in value if k not in (fields or set())])
        if isinstance(value, str | int | float | bool) and len(str(value)) <= 200 and _finite(value):
            item["input"] = value
        errors.append(item)
    return errors


def _misspelt(name: str, keys: list[str]) -> str:
    """`` (the record has 'colour': a misspelling?)`` when a key of the record is close to the missing field."""
    import difflib

    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    return f" (the record has '{close[0]}': a misspelling?)" if close else ""


def _finite(value: Any) -> bool:
    """NaN and infinities are not JSON: such an input is left out of the error, not sent."""
    return not isinstance(value, float) or math.isfinite(value)
