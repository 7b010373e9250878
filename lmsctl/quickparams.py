"""Plain option values without Pydantic: a start-up saving of Typer's coercion.

Since 0.28, Typer coerces every parameter value (defaults included) through a Pydantic
``TypeAdapter`` built on first use, so any command with a ``str`` or ``int`` option imports
Pydantic and builds a dozen adapters: a large share of ``lmsctl users list --json``'s start
(bench/cli_start.py). Here a value that is already what the adapter would return (a ``str``,
a ``bool``, an ``int`` or a string of ASCII digits within the option's ``min``/``max``) is
taken as it is; anything else (a bad number, a choice, a path, a date...) goes to Typer's own
coercion, built then, so its checks and messages are Typer's.

Typer's hook for this is private (``_TyperParameter.get_runtime_param``): :func:`install`
checks that it is there and otherwise leaves Typer alone (the saving is lost, nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from typer import _coercion
from typer.core import _TyperParameter

_MISSING = object()


@dataclass(frozen=True)
class QuickParam(_coercion.RuntimeParam):
    """A missing value, or a plain ``str``, ``bool`` or ``int`` one, as it is; Typer's coercion
    (built on first need) for anything else."""

    descriptor: Any = None
    plain: bool = False
    _full: list[_coercion.RuntimeParam] = field(default_factory=list, compare=False)

    def _quick(self, value: Any) -> Any:
        if not self.plain:
            return _MISSING
        kind = self.annotation
        if kind is str and type(value) is str:
            try:
                value.encode("utf-8")  # Pydantic refuses lone surrogates (undecodable argv)
            except UnicodeEncodeError:
                return _MISSING
            return value
        if kind is bool and type(value) is bool:
            return value
        if kind is int:
            if type(value) is str and value.isascii() and value.isdigit():
                value = int(value)
            if type(value) is not int:
                return _MISSING
            info = self.parameter_info
            if (info.min is not None and value < info.min) or (
                info.max is not None and value > info.max
            ):
                return _MISSING  # Typer words the refusal (or clamps)
            return value
        return _MISSING

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        quick = self._quick(value)
        if quick is not _MISSING:
            return quick
        if not self._full:
            self._full.append(_coercion.build_runtime_param(self.descriptor))
        return self._full[0]._coerce_value(value, param=param, ctx=ctx)


def _plain(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    return (
        descriptor.annotation in (str, bool, int)
        and descriptor.file_annotation is None
        and getattr(info, "parser", None) is None
        and not getattr(info, "clamp", False)
        and getattr(descriptor, "choices", None) is None
    )


def _get_runtime_param(self: Any) -> _coercion.RuntimeParam:
    if self._runtime_param is None:
        # Every parameter: a missing value (None) never needs Typer's coercion either.
        descriptor = self.type_descriptor
        self._runtime_param = QuickParam(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
            plain=_plain(descriptor),
        )
    runtime_param: _coercion.RuntimeParam = self._runtime_param
    return runtime_param


def install() -> bool:
    """Use :class:`QuickParam` for Typer's plain parameters; whether it could."""
    needed = ("RuntimeParam", "build_runtime_param")
    if not all(hasattr(_coercion, name) for name in needed) or not hasattr(
        _TyperParameter, "get_runtime_param"
    ):
        return False
    _TyperParameter.get_runtime_param = _get_runtime_param  # type: ignore[method-assign]
    return True
