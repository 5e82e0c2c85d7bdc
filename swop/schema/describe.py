"""Turn pydantic validation errors into one-line problems that name the field, its position and what it expects.

The expected shape is read from the models themselves (annotations, ``annotated_types`` bounds, ``Literal``
choices), or from an :class:`Expect` marker where a plain reading would be clumsy.
"""

from __future__ import annotations

import datetime
import enum
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Len, MaxLen, MinLen
from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from swop.schema.errors import Problem, SchemaError
from swop.schema.positions import PathItem, YamlDocument, YamlPath, field_name


@dataclass(frozen=True)
class Expect:
    """Annotation marker: the words that describe what a field expects, e.g. ``Expect("a list of KEY: value")``."""

    text: str


# --- reading the models -------------------------------------------------------------------------------------------


def _unwrap(tp: Any, metadata: list[Any]) -> Any:
    """Strip ``Annotated`` layers, collecting their metadata."""
    while get_origin(tp) is Annotated:
        args = get_args(tp)
        tp = args[0]
        for extra in args[1:]:
            metadata.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    return get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field_keys(name: str, info: FieldInfo) -> list[str]:
    keys = [info.alias or name]
    if isinstance(info.validation_alias, AliasChoices):
        keys += [c for c in info.validation_alias.choices if isinstance(c, str)]
    elif isinstance(info.validation_alias, str):
        keys.append(info.validation_alias)
    return keys


def model_field(model: type[BaseModel], key: PathItem) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in _field_keys(name, info):
            return info
    return None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [(info.alias or name) for name, info in model.model_fields.items()]


def type_at(root: Any, path: Sequence[PathItem], overrides: Mapping[YamlPath, Any]) -> tuple[Any, list[Any]] | None:
    """The annotation (and its metadata) the models give the value at ``path``; ``overrides`` fixes the type at a
    path prefix where the models leave a choice (a task's body, chosen by its ``TaskType``)."""
    tp: Any = root
    metadata: list[Any] = []
    for depth, item in enumerate(path):
        tp = _unwrap(tp, metadata)
        step = _step(tp, item)
        if step is None:
            return None
        tp, metadata = step
        tp = overrides.get(tuple(path[: depth + 1]), tp)
    return tp, metadata


def _step(tp: Any, item: PathItem) -> tuple[Any, list[Any]] | None:
    for member in _members(tp):
        metadata: list[Any] = []
        member = _unwrap(member, metadata)
        if get_origin(member) in (Union, types.UnionType):
            found = _step(member, item)
            if found is not None:
                return found
        elif _is_model(member) and isinstance(item, str):
            info = model_field(member, item)
            if info is not None:
                return info.annotation, list(info.metadata)
        elif get_origin(member) is list and isinstance(item, int):
            return get_args(member)[0], []
        elif get_origin(member) is dict:
            return get_args(member)[1], []
    return None


def expected(tp: Any, metadata: Sequence[Any] = ()) -> str:
    """Plain words for what a value of annotation ``tp`` looks like."""
    metadata = list(metadata)
    tp = _unwrap(tp, metadata)
    for extra in metadata:
        if isinstance(extra, Expect):
            return extra.text
    members = [m for m in _members(tp) if m is not type(None)]
    nullable = len(members) < len(_members(tp))
    words = " or ".join(_expected_one(m, metadata if len(members) == 1 else []) for m in members)
    return f"{words}, or ~" if nullable else words


def _expected_one(tp: Any, metadata: list[Any]) -> str:
    tp = _unwrap(tp, metadata)
    for extra in metadata:
        if isinstance(extra, Expect):
            return extra.text
    low, high = _bounds(metadata)
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in tp)
    if tp is str:
        return "a string" + _range(low, high, " of {} characters")
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer" + _range(low, high, " {}")
    if get_origin(tp) is list:
        return "a list of " + _plural(get_args(tp)[0]) + _range(low, high, " ({} items)")
    if get_origin(tp) is dict or _is_model(tp):
        if _is_model(tp):
            required = [(i.alias or n) for n, i in tp.model_fields.items() if i.is_required()]
            return "a mapping" + (f" with {', '.join(required)}" if required else "")
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _plural(tp: Any) -> str:
    metadata: list[Any] = []
    tp = _unwrap(tp, metadata)
    if tp is str:
        return "strings"
    if _is_model(tp) or get_origin(tp) is dict:
        return "mappings"
    return "items"


def _bounds(metadata: Sequence[Any]) -> tuple[int | None, int | None]:
    low: int | None = None
    high: int | None = None
    for extra in metadata:
        if isinstance(extra, MinLen | Len):
            low = extra.min_length
        if isinstance(extra, MaxLen):
            high = extra.max_length
        if isinstance(extra, Len) and extra.max_length is not None:
            high = extra.max_length
        if isinstance(extra, Ge):
            low = int(extra.ge)  # type: ignore[call-overload]
        if isinstance(extra, Gt):
            low = int(extra.gt) + 1  # type: ignore[call-overload]
        if isinstance(extra, Le):
            high = int(extra.le)  # type: ignore[call-overload]
    return low, high


def _range(low: int | None, high: int | None, template: str) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return template.format(f">= {low}") if "characters" not in template else template.format(f"at least {low}")
    if low is None:
        return template.format(f"<= {high}") if "characters" not in template else template.format(f"at most {high}")
    return template.format(f"{low}..{high}")


# --- translating errors -------------------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """How a value the file gave is quoted back to the user."""
    if value is None:
        return "~ (nothing)"
    if isinstance(value, bool):
        return f"{value} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, datetime.date):
        return f"{value.isoformat()} (a date)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_TYPE_ERRORS = {
    "string_type",
    "int_type",
    "bool_type",
    "model_type",
    "list_type",
    "dict_type",
    "int_from_float",
    "model_attributes_type",
    "none_required",
    "is_instance_of",
    "literal_error",
    "enum",
}


def _did_you_mean(key: Any, allowed: list[str] | None) -> str:
    if not allowed:
        return ""
    for name in allowed:
        if isinstance(key, str) and name.lower() == key.lower():
            return f" (did you mean {name}? keys are case-sensitive)"
    return f" (allowed here: {', '.join(allowed)})"


def _reason(err: Mapping[str, Any], expect: str | None, allowed: list[str] | None) -> str:
    kind: str = err["type"]
    value = err.get("input")
    want = f" (expected {expect})" if expect else ""
    if kind == "missing":
        return f"field required{want}"
    if kind == "extra_forbidden":
        return "unknown field" + _did_you_mean(err["loc"][-1] if err["loc"] else "", allowed)
    if kind in {"literal_error", "enum"}:
        return f"unknown value {shown(value)}{want}"
    if kind in _TYPE_ERRORS:
        hint = ""
        if kind == "string_type" and isinstance(value, bool | int | float | datetime.date):
            hint = "; quote it to keep it text"
        elif kind == "string_type" and isinstance(value, dict):
            hint = "; a ': ' inside an unquoted value starts a mapping, so quote the value"
        return f"got {shown(value)}{want}{hint}"
    if kind in {"string_too_short", "string_too_long"} and isinstance(value, str):
        return f"{shown(value)} is {len(value)} characters long{want}"
    if kind in {"too_short", "too_long"} and isinstance(value, list | dict):
        return f"has {len(value)} item{'s' if len(value) != 1 else ''}{want}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return f"got {shown(value)}{want}"
    message = str(err.get("msg", kind))
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _misspelt_nearby(doc: YamlDocument, loc: tuple[PathItem, ...]) -> bool:
    """Whether the mapping that lacks key ``loc[-1]`` has it under another capitalisation."""
    parent = doc.value_at(loc[:-1])
    wanted = loc[-1] if loc else None
    return (
        isinstance(parent, dict)
        and isinstance(wanted, str)
        and any(isinstance(k, str) and k != wanted and k.lower() == wanted.lower() for k in parent)
    )


def problems_from(
    error: ValidationError, doc: YamlDocument, root: type[BaseModel], overrides: Mapping[YamlPath, Any] = {}
) -> SchemaError:
    """One :class:`SchemaError` holding a problem per distinct field, in the order they appear in the file."""
    problems = _problems(error, doc, root, overrides, skip_misspelt=True)
    return SchemaError(problems or _problems(error, doc, root, overrides, skip_misspelt=False))


def _problems(
    error: ValidationError,
    doc: YamlDocument,
    root: type[BaseModel],
    overrides: Mapping[YamlPath, Any],
    skip_misspelt: bool,
) -> list[Problem]:
    found: dict[YamlPath, tuple[tuple[int, int, int, int], Problem]] = {}
    for order, err in enumerate(error.errors()):
        at = tuple(err.get("ctx", {}).get("at", ()))  # a model-level check naming the field it is about
        loc: tuple[PathItem, ...] = tuple(err["loc"]) + at
        kind = err["type"]
        if skip_misspelt and kind == "missing" and _misspelt_nearby(doc, loc):
            continue  # the unknown-key problem for the misspelling says "did you mean ..."
        located = doc.locate(loc, missing=kind == "missing" or bool(at), at_key=kind == "extra_forbidden")
        described = type_at(root, located.path, overrides)
        expect = expected(*described) if described is not None else None
        allowed = None
        if kind == "extra_forbidden":
            parent = type_at(root, located.path[:-1], overrides)
            model = _unwrap(parent[0], []) if parent is not None else None
            allowed = allowed_keys(model) if model is not None and _is_model(model) else None
        problem = Problem(
            doc.source,
            located.position.line,
            located.position.column,
            field_name(located.path),
            _reason(err, expect, allowed),
        )
        if located.path not in found:  # a union reports one value several times: keep the first
            rank = 0 if kind == "extra_forbidden" else 1  # a misspelt key explains the missing one beside it
            found[located.path] = ((located.position.line, located.position.column, rank, order), problem)
    return [problem for _, problem in sorted(found.values(), key=lambda entry: entry[0])]
