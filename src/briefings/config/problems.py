"""From a YAML file and a pydantic validation error to lines a comms officer can act on.

Each problem names the key path (``subscribers[2].email``: entries count from 1, as a person
counts them), what was wrong and what is expected. YAML that cannot be parsed is reported with
its line and column, never as a traceback.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

Loc = tuple[int | str, ...]


class ConfigModel(BaseModel):
    """A mapping in a file comms teams edit: unknown keys, infinities and NaN are mistakes."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: How unknown keys of this mapping are described: "unknown scope key(s) ...".
    keys_name: ClassVar[str] = ""
    #: When set, missing keys (or a value that is not a mapping) are reported with this
    #: message; {owner} is the entry's key path and {missing} the missing keys.
    incomplete: ClassVar[str | None] = None


class YamlFileError(Exception):
    """A file that cannot be read as YAML keys and values; `problem` says where and why."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys without a word; a comms officer who pastes an
    entry twice should hear about it."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # an unhashable key: the constructor below says so
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"'{key}' appears twice (first on line {first})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, optional: bool = False) -> dict[str, Any]:
    """The file's top-level mapping ({} for an empty file, or a missing optional one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if optional:
            return {}
        raise YamlFileError("file not found") from None
    except UnicodeDecodeError:
        raise YamlFileError("not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise YamlFileError(f"cannot be read ({error.strerror})") from None
    try:
        loaded = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise YamlFileError(f"{where}not valid YAML ({what})") from None
    except yaml.YAMLError as error:
        raise YamlFileError(f"not valid YAML ({error})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise YamlFileError("expected keys and values at the top level")
    return loaded


def key_path(loc: Sequence[int | str]) -> str:
    """('subscribers', 1, 'email') -> 'subscribers[2].email'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def problems(
    error: ValidationError,
    model: type[BaseModel],
    label: Callable[[Loc], str | None] = lambda loc: None,
    owner_name: str = "the file",
) -> list[str]:
    """One line per mistake: '<key path>: <label>: <what is wrong and what is expected>'."""
    found: list[str] = []
    extras: dict[Loc, list[str]] = {}
    incomplete: dict[Loc, list[str]] = {}
    for detail in error.errors(include_url=False):
        loc: Loc = tuple(part for part in detail["loc"] if part != "root")
        kind = detail["type"]
        if kind == "extra_forbidden":
            extras.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        owner = _type_at(model, loc[:-1])
        if kind == "missing" and _is_model(owner) and getattr(owner, "incomplete", None):
            if loc[:-1] not in incomplete:
                found.append("")  # its place in the order; filled in below
            incomplete.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        if loc and loc[-1] == "[key]":  # a mapping's key: the message names it
            loc = loc[:-2]
            found.append(_line(loc, label, detail["msg"], with_path=bool(loc)))
            continue
        message, names_owner = _message(detail, loc, model, owner_name)
        if names_owner:  # "Wiltshire needs a quote, ...": the path is in the sentence
            found.append(_line((), label, message, with_path=False, label_loc=loc))
        else:
            found.append(_line(loc, label, message))
    for parent, keys in incomplete.items():
        template: str = _type_at(model, parent).incomplete
        missing = ", ".join(f"'{key}'" for key in keys)
        text = template.format(owner=key_path(parent) or owner_name, missing=missing)
        found[found.index("")] = _line((), label, text, with_path=False, label_loc=parent)
    for parent, keys in extras.items():
        owner = _type_at(model, parent)
        allowed = sorted(owner.model_fields) if _is_model(owner) else []
        what = owner.keys_name if _is_model(owner) and issubclass(owner, ConfigModel) else ""
        text = f"unknown {what}key(s) {', '.join(sorted(keys))}"
        if allowed:
            text += f" (allowed: {', '.join(allowed)})"
        found.append(_line(parent, label, text))
    return found


def _line(
    loc: Loc,
    label: Callable[[Loc], str | None],
    message: str,
    with_path: bool = True,
    label_loc: Loc | None = None,
) -> str:
    path = key_path(loc)
    # "small_number_threshold must be ..." names its key already
    parts = [path] if with_path and loc and not message.startswith(f"{path} ") else []
    who = label(loc if label_loc is None else label_loc)
    if who:
        parts.append(who)
    return ": ".join([*parts, message])


def _message(detail: Any, loc: Loc, model: type[BaseModel], owner_name: str) -> tuple[str, bool]:
    """The message for one error, and whether it names the entry itself."""
    kind, value = detail["type"], detail.get("input")
    if kind == "configuration":
        return str(detail["msg"]), False
    leaf = str(next((part for part in reversed(loc) if isinstance(part, str)), owner_name))
    field, exact = _field_at(model, loc)
    extra = field.json_schema_extra if field and isinstance(field.json_schema_extra, dict) else {}
    if kind == "missing":
        return str(extra.get("missing") or f"'{leaf}' is required"), False
    here = _type_at(model, loc)
    not_a_mapping = kind in ("model_type", "model_attributes_type", "dict_type")
    if not_a_mapping and _is_model(here) and getattr(here, "incomplete", None):
        template = here.incomplete.split(" (")[0]  # not a mapping: no key to name
        return template.format(owner=key_path(loc) or owner_name, missing=""), True
    if exact and extra.get("invalid"):
        return f"{extra['invalid']}{_found(value)}", False
    return f"{leaf} {_expected(kind, detail.get('ctx') or {})}{_found(value)}", False


def _expected(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "finite_number":
        return "must be a finite number (not .inf or .nan)"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind in ("string_type", "string_unicode"):
        return "must be text"
    if kind in ("list_type", "tuple_type"):
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be keys and values"
    bounds = {
        "greater_than": "greater than {gt}",
        "greater_than_equal": "{ge} or more",
        "less_than": "less than {lt}",
        "less_than_equal": "at most {le}",
        "literal_error": "one of {expected}",
    }
    if kind in bounds:
        return "must be " + bounds[kind].format(**ctx)
    return "is not valid"


def _found(value: object) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        return f" (found {text if len(text) <= 60 else text[:57] + '...'})"
    return ""


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            tp = options[0] if len(options) == 1 else tp
            if len(options) != 1:
                return tp
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _step(tp: Any, part: int | str) -> tuple[Any, FieldInfo | None]:
    tp = _unwrap(tp)
    if _is_model(tp):
        fields = tp.model_fields
        if "root" in fields and len(fields) == 1 and part not in fields:
            return _step(fields["root"].annotation, part)
        if isinstance(part, str) and part in fields:
            return fields[part].annotation, fields[part]
        return None, None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
        return args[0], None
    if origin is dict and len(args) == 2:
        return args[1], None
    return None, None


def _type_at(model: type[BaseModel], loc: Loc) -> Any:
    tp: Any = model
    for part in loc:
        tp, _ = _step(tp, part)
        if tp is None:
            return None
    return _unwrap(tp)


def _field_at(model: type[BaseModel], loc: Loc) -> tuple[FieldInfo | None, bool]:
    """The field the error is about, and whether the error is on it (or its items) rather
    than deeper inside."""
    tp: Any = model
    field, exact = None, False
    for part in loc:
        tp, info = _step(tp, part)
        if info is not None:
            field, exact = info, True
        elif isinstance(part, str):
            exact = False
        if tp is None:
            break
    return field, exact
