"""Events built from their pydantic models alone, with a unique marker in every string
(nested models, lists and dict keys and values included): what a planted-marker test needs
to see where each typed value ends up."""

from __future__ import annotations

import itertools
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo


class Markers:
    def __init__(self, prefix: str = "MK") -> None:
        self.prefix = prefix
        self._n = itertools.count(1)
        self.planted: dict[str, str] = {}  # marker -> where

    def new(self, where: str) -> str:
        marker = f"{self.prefix}{next(self._n):04d}Q"
        self.planted[marker] = where
        return marker

    def build(self, model: type[BaseModel], where: str = "") -> BaseModel:
        where = where or model.__name__
        values = {
            name: self._value(_annotation(info), info, f"{where}.{name}")
            for name, info in model.model_fields.items()
        }
        return model.model_validate(values)

    def _value(self, annotation: Any, info: FieldInfo | None, where: str) -> Any:
        origin = get_origin(annotation)
        if origin is Annotated:
            base, *metadata = get_args(annotation)
            return self._value(base, _with(info, metadata), where)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            return self._value(options[0], info, where)  # never None: plant something
        if origin is Literal:
            return get_args(annotation)[0]
        if origin in (list, tuple, set, frozenset):
            (inner, *_) = get_args(annotation) or (str,)
            return [self._value(inner, None, f"{where}[]")]
        if origin is dict:
            _, value = get_args(annotation) or (str, str)
            return {self.new(f"{where}{{key}}"): self._value(value, None, f"{where}{{value}}")}
        if annotation in (str, Any):
            return self.new(where)
        if annotation is bool:
            return True
        if annotation in (int, float):
            return annotation(_lowest(info, annotation is int))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self.build(annotation, where).model_dump()
        raise TypeError(f"{where}: cannot build {annotation!r}")


def _annotation(info: FieldInfo) -> Any:
    return info.annotation


def _with(info: FieldInfo | None, metadata: list[Any]) -> FieldInfo:
    field = FieldInfo()
    field.metadata = [*(info.metadata if info else []), *metadata]
    return field


def _lowest(info: FieldInfo | None, integer: bool) -> float:
    """The smallest value the field's bounds allow, at least 0 (counts, ages, totals), or
    midway inside an open interval of reals (a probability)."""
    low, high, open_low = 0.0, None, False
    for item in info.metadata if info else []:
        if isinstance(item, annotated_types.Ge):
            low = max(low, float(item.ge))  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low, open_low = max(low, float(item.gt)), True  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = float(getattr(item, "le", getattr(item, "lt", 0)))
    if not open_low:
        return low
    if integer:
        return low + 1
    return (low + high) / 2 if high is not None else low + 1
