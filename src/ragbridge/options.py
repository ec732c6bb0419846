"""Command-line options derived from config dataclasses, so every default is owned once.

A CLI command declares a parameter typed with a config dataclass; `from_configs` replaces it
by one option per field (nested dataclasses are flattened), with the field's default and the
help text of its `metadata["help"]`, and hands the command the built config back. Adding a
field to a config adds the option; no default is written twice.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Union

import typer

CONFIG_CLASSES: dict[str, type] = {}


def _is_optional(hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        arguments = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(arguments) == 1 and len(typing.get_args(hint)) == 2:
            return True, arguments[0]
    return False, hint


def option_fields(config_class: type) -> list[tuple[tuple[str, ...], dataclasses.Field, Any]]:
    """(path, field, type) of every leaf field; nested dataclass fields are flattened."""
    hints = typing.get_type_hints(config_class)
    leaves = []
    for item in dataclasses.fields(config_class):
        if item.metadata.get("cli") is False:
            continue
        hint = hints[item.name]
        if dataclasses.is_dataclass(hint):
            leaves += [((item.name, *path), leaf, kind)
                       for path, leaf, kind in option_fields(hint)]
        else:
            leaves.append(((item.name,), item, hint))
    return leaves


def option_name(item: dataclasses.Field) -> str:
    """The Python name of a field's option (`metadata["flag"]` or the field name)."""
    return item.metadata.get("flag", item.name)


def _default(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return inspect.Parameter.empty


def _cli_type(hint: Any) -> Any:
    optional, inner = _is_optional(hint)
    if typing.get_origin(inner) is tuple:
        inner = list[typing.get_args(inner)[0]]
    return inner | None if optional else inner


def _flag(item: dataclasses.Field) -> str:
    """A field's option as typed: `--name-with-dashes`."""
    return "--" + option_name(item).replace("_", "-")


def _negative_flag(item: dataclasses.Field) -> str:
    """The option that turns a boolean field off (`metadata["negative"]` or `--no-NAME`)."""
    return "--" + item.metadata.get("negative", "no-" + _flag(item)[2:])


def _parameter(item: dataclasses.Field, hint: Any) -> inspect.Parameter:
    default = _default(item)
    cli_type = _cli_type(hint)
    if isinstance(default, tuple):
        default = list(default) or None
        cli_type = cli_type | None
    name = option_name(item)
    flags: list[str] = [_flag(item), *item.metadata.get("aliases", ())]
    if _is_optional(hint)[1] is bool:
        flags = [f"{_flag(item)}/{_negative_flag(item)}"]
    annotation = Annotated[cli_type, typer.Option(*flags, help=item.metadata.get("help", ""),
                                                  show_default=default is not None)]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def _build(config_class: type, values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(config_class)
    arguments = {}
    for item in dataclasses.fields(config_class):
        if item.metadata.get("cli") is False:
            continue
        hint = hints[item.name]
        if dataclasses.is_dataclass(hint):
            arguments[item.name] = _build(hint, values)
            continue
        value = values[option_name(item)]
        optional, inner = _is_optional(hint)
        if typing.get_origin(inner) is tuple:
            value = tuple(value or ())
        elif inner is Path and value is not None:
            value = Path(value)
        arguments[item.name] = value
    return config_class(**arguments)


def as_flags(config: Any) -> list[str]:
    """The command-line options that rebuild `config` from its class defaults: one per leaf
    field whose value differs (a recipe's settings, written out for a stage command)."""
    flags: list[str] = []
    defaults = type(config)()
    for path, item, hint in option_fields(type(config)):
        value, default = config, defaults
        for name in path:
            value, default = getattr(value, name), getattr(default, name)
        if value == default:
            continue
        if _is_optional(hint)[1] is bool:
            flags.append(_flag(item) if value else _negative_flag(item))
        elif isinstance(value, tuple):
            flags += [part for element in value for part in (_flag(item), str(element))]
        elif value is None:
            raise ValueError(f"{option_name(item)} is None, which no option can say")
        else:
            flags += [_flag(item), str(value)]
    return flags


def from_configs(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: expand every config-dataclass parameter of a command into options."""
    hints = typing.get_type_hints(function, include_extras=True)
    signature = inspect.signature(function)
    parameters: list[inspect.Parameter] = []
    configs: dict[str, type] = {}
    seen: set[str] = set()
    for name, parameter in signature.parameters.items():
        hint = hints.get(name, parameter.annotation)
        if dataclasses.is_dataclass(hint):
            configs[name] = hint
            for _, item, kind in option_fields(hint):
                if option_name(item) in seen:
                    raise TypeError(f"option {option_name(item)!r} of {hint.__name__} is "
                                    f"declared twice in {function.__name__}")
                seen.add(option_name(item))
                parameters.append(_parameter(item, kind))
        else:
            seen.add(name)
            parameters.append(parameter.replace(annotation=hint,
                                                kind=inspect.Parameter.KEYWORD_ONLY))

    @functools.wraps(function)
    def command(**values: Any) -> Any:
        try:
            built = {name: _build(kind, values) for name, kind in configs.items()}
        except ValueError as error:  # options that do not go together: a usage error
            raise typer.BadParameter(str(error)) from None
        own = {p: values[p] for p in signature.parameters if p not in configs}
        return function(**own, **built)

    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    del command.__wrapped__  # typer must see the expanded signature, not the original
    command.configs = configs  # type: ignore[attr-defined]
    return command
