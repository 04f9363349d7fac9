"""Base class for every configuration model: frozen, strict, documented fields.

Numbers are checked more strictly than pydantic's default ("lax") mode does:

* a boolean is never a number: ``lanes: true`` is an error, not ``lanes: 1`` (YAML's ``yes``,
  ``on`` and ``true`` are booleans); a field that also takes booleans accepts them;
* every float is finite: ``.inf``, ``.nan`` and ``1.0e+400`` (which parses as infinity) are
  errors naming the field.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _arms(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union annotation (``int | None`` → ``int, None``), else itself."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _arms(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return tuple(a for arm in typing.get_args(annotation) for a in _arms(arm))
    return (annotation,)


def _bool_misplaced(value: Any, annotation: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds a boolean where ``annotation`` wants a number (int or float),
    looking into dict values and list/tuple items (a few levels deep)."""
    arms = _arms(annotation)
    if isinstance(value, bool):
        if any(a is bool or a is Any or a is object for a in arms):
            return False
        return any(a is int or a is float for a in arms)
    if depth >= 4 or not isinstance(value, dict | list | tuple):
        return False
    for arm in arms:
        origin = typing.get_origin(arm)
        args = typing.get_args(arm)
        if isinstance(value, dict) and origin in (dict, typing.Mapping) and len(args) == 2:
            items: Any = value.values()
            item_type = args[1]
        elif isinstance(value, list | tuple) and origin in (list, tuple, set, frozenset) and args:
            items = value
            item_type = args[0]
        else:
            continue
        return any(_bool_misplaced(item, item_type, depth + 1) for item in items)
    return False


class FrozenModel(BaseModel):
    """A frozen pydantic model that rejects unknown fields (so a typo is an error, not a no-op),
    booleans given for numbers, and non-finite floats."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
        allow_inf_nan=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or not isinstance(value, bool | dict | list | tuple):
            return value
        field = cls.model_fields.get(info.field_name)
        if field is not None and _bool_misplaced(value, field.annotation):
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got a boolean ({str(value).lower()})")
            raise ValueError("expected numbers, got a boolean among the values")
        return value
