"""Settings that know their command-line option: the machinery under :mod:`engine.specs`.

A spec is a dataclass deriving from :class:`Spec`; a field made with :func:`option` carries
its :class:`Option` (flag, help, group, the values it accepts). From these alone a spec
adds its options to an argparse parser, writes its command line (:meth:`Spec.to_args`), is
made from parsed arguments (:meth:`Spec.from_args`) or from a run's saved settings
(:meth:`Spec.from_config`), and checks every value when it is made, however it is made.
A field whose type is itself a Spec nests that spec's options (a job = task + training).
No torch, no Qt.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

REQUIRED = dataclasses.MISSING  # an option's default when a spec cannot be made without it
_OPTION = "option"              # the dataclass field metadata key
_KIND_NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false",
               list: "a list of text"}


class SpecError(ValueError):
    """A spec refused its values; ``problems`` lists each (the message joins them)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Option:
    """A setting's command-line face and the values it accepts (ranges are inclusive with
    ``at_least``/``at_most``, exclusive with ``above``/``below``)."""

    flag: str
    help: str | None = None
    group: str | None = None       # the --help section; None: the parser's own
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None
    below: float | None = None
    negate: bool = False           # a setting that is True unless the flag is given (--no-header)
    path: bool = False             # a path (or list of paths), made absolute

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def range_problem(self, value: float) -> str | None:
        if ((self.at_least is None or value >= self.at_least)
                and (self.above is None or value > self.above)
                and (self.at_most is None or value <= self.at_most)
                and (self.below is None or value < self.below)):
            return None
        return f"{self.flag} must be {self._range_text()}, got {value!r}"

    def _range_text(self) -> str:
        low = self.at_least if self.at_least is not None else self.above
        high = self.at_most if self.at_most is not None else self.below
        if high is None:
            if self.above == 0:
                return "positive"
            return f"at least {low:g}" if self.at_least is not None else f"above {low:g}"
        if low is None:
            return f"at most {high:g}" if self.at_most is not None else f"below {high:g}"
        return (f"in {'[' if self.at_least is not None else '('}{low:g}, {high:g}"
                f"{']' if self.at_most is not None else ')'}")


def option(opt: Option | str, default: Any = REQUIRED, **settings: Any) -> Any:
    """A dataclass field set by ``opt``: an :class:`Option` (shared by specs whose flag means
    the same), or a flag and the Option's other settings."""
    if isinstance(opt, str):
        opt = Option(opt, **settings)
    return dataclasses.field(default=default, metadata={_OPTION: opt})


def default(spec_class: type, name: str) -> Any:
    """The default of ``spec_class``'s setting ``name`` (where a GUI form starts from it)."""
    return next(f.default for f in _fields(spec_class) if f.field.name == name)


@dataclass(frozen=True)
class _Field:
    field: dataclasses.Field
    option: Option | None
    kind: type            # int, float, str, bool, list or a Spec class
    optional: bool        # None is a value it may hold

    @property
    def label(self) -> str:
        """How messages name it: its flag, else its name."""
        return self.option.flag if self.option else self.field.name

    @property
    def default(self) -> Any:
        return None if self.field.default is REQUIRED else self.field.default


@dataclass(frozen=True)
class _CliOption:
    option: Option
    kind: type
    default: Any          # as parsed arguments hold it (False for a negated setting)


def _kind(hint: Any) -> tuple[type, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        (base,) = [a for a in args if a is not type(None)]
        return typing.get_origin(base) or base, type(None) in args
    return typing.get_origin(hint) or hint, False


@functools.cache
def _fields(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(_Field(f, f.metadata.get(_OPTION), *_kind(hints[f.name]))
                 for f in dataclasses.fields(cls))


def _is_spec(kind: type) -> bool:
    return isinstance(kind, type) and issubclass(kind, Spec)


def _kind_ok(kind: type, value: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _arg_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # repr: exact round trip


class Spec:
    """Base of the job specs (each a dataclass). Subclasses add cross-field checks in
    :meth:`problems`; options that fill no field of their own go in ``EXTRA_OPTIONS``."""

    # CLI options with no field of their own, each listed after the named field (their values
    # are str or None; :meth:`_cli_values` and :meth:`_from_cli` map them onto fields).
    EXTRA_OPTIONS: ClassVar[dict[str, Option]] = {}

    def __post_init__(self) -> None:
        self._normalize()
        problems = self._field_problems()
        problems = problems or self.problems()  # cross-field checks need well-typed fields
        if problems:
            raise SpecError(problems)

    def problems(self) -> list[str]:
        """What the fields' own checks cannot see: how they go together."""
        return []

    # ----- the command line -----

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add every option of this spec (and its nested specs) to ``parser``, in groups."""
        groups: dict[str, argparse._ArgumentGroup] = {}
        for cli in cls._cli_options():
            group = cli.option.group
            if group is not None and group not in groups:
                groups[group] = parser.add_argument_group(group)
            target = parser if group is None else groups[group]
            settings: dict[str, Any] = {"dest": cli.option.dest, "help": cli.option.help}
            if cli.kind is bool:
                settings["action"] = "store_true"
            else:
                settings.update(default=cli.default, metavar=cli.option.metavar,
                                choices=cli.option.choices)
                if cli.kind in (int, float):
                    settings["type"] = cli.kind
                elif cli.kind is list:
                    settings["nargs"] = "+"
            target.add_argument(cli.option.flag, **settings)

    def to_args(self) -> list[str]:
        """This spec's command line: each option whose value is not its default, in --help
        order, so that parsing it gives this spec back."""
        values = self._cli_values()
        args: list[str] = []
        for cli in self._cli_options():
            value = values[cli.option.dest]
            if value is None or value == cli.default:
                continue
            if cli.kind is bool:
                args.append(cli.option.flag)
            elif cli.kind is list:
                args += [cli.option.flag, *value]
            elif isinstance(value, str) and value.startswith("-"):
                args.append(f"{cli.option.flag}={value}")  # not read as an option itself
            else:
                args += [cli.option.flag, _arg_text(value)]
        return args

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        """The spec that arguments parsed by a parser from :meth:`add_arguments` describe."""
        return cls._from_cli(vars(args))

    @classmethod
    def from_config(cls, saved: Any):
        """The spec a run saved (``dataclasses.asdict``): a setting an older run did not write
        takes its default; an unknown setting or a bad value is refused."""
        if not isinstance(saved, dict):
            raise SpecError([f"the saved settings must be a JSON object, not "
                             f"{type(saved).__name__}"])
        names = [f.field.name for f in _fields(cls)]
        unknown = sorted(set(saved) - set(names))
        if unknown:
            raise SpecError([f"unknown saved setting(s) {', '.join(unknown)} (written by a "
                             "newer bert-engine?)"])
        missing = [f.field.name for f in _fields(cls)
                   if f.field.name not in saved and f.field.default is REQUIRED]
        if missing:
            raise SpecError([f"the saved settings lack {', '.join(missing)}"])
        return cls(**saved)

    # ----- internals -----

    @classmethod
    def _cli_options(cls) -> list[_CliOption]:
        """Every option, each flag once, grouped in the order the groups first appear."""
        found: dict[str, _CliOption] = {}
        for cli in cls._declared_options():
            seen = found.get(cli.option.flag)
            if seen is not None and seen != cli:  # one flag, one meaning and one default
                raise TypeError(f"{cls.__name__}: {cli.option.flag} is declared twice")
            found[cli.option.flag] = cli
        groups = list(dict.fromkeys(cli.option.group for cli in found.values()))
        return sorted(found.values(), key=lambda cli: groups.index(cli.option.group))

    @classmethod
    def _declared_options(cls) -> list[_CliOption]:
        declared: list[_CliOption] = []
        for f in _fields(cls):
            if _is_spec(f.kind):
                declared += f.kind._declared_options()
            elif f.option is not None:
                default = False if f.option.negate else f.default
                declared.append(_CliOption(f.option, f.kind, default))
            if f.field.name in cls.EXTRA_OPTIONS:
                declared.append(_CliOption(cls.EXTRA_OPTIONS[f.field.name], str, None))
        return declared

    def _cli_values(self) -> dict[str, Any]:
        """The values as parsed arguments hold them, by dest (nested specs' included)."""
        values: dict[str, Any] = {extra.dest: None for extra in self.EXTRA_OPTIONS.values()}
        for f in _fields(type(self)):
            value = getattr(self, f.field.name)
            if _is_spec(f.kind):
                nested = value._cli_values()
            elif f.option is not None:
                nested = {f.option.dest: (not value) if f.option.negate else value}
            else:
                continue
            for dest, item in nested.items():
                if values.get(dest, item) != item:
                    raise SpecError([f"--{dest.replace('_', '-')} is set to two values "
                                     f"({values[dest]!r} and {item!r}) in one job"])
                values[dest] = item
        return values

    @classmethod
    def _from_cli(cls, values: dict[str, Any]):
        settings: dict[str, Any] = {}
        for f in _fields(cls):
            if _is_spec(f.kind):
                settings[f.field.name] = f.kind._from_cli(values)
            elif f.option is not None:
                value = values[f.option.dest]
                settings[f.field.name] = (not value) if f.option.negate else value
        return cls(**settings)

    def _normalize(self) -> None:
        for f in _fields(type(self)):
            value = getattr(self, f.field.name)
            if f.kind is float and _kind_ok(int, value):
                setattr(self, f.field.name, float(value))
            elif f.kind is list and isinstance(value, tuple):
                setattr(self, f.field.name, list(value))
            if f.option is not None and f.option.path and value:
                if isinstance(value, str):
                    setattr(self, f.field.name, _absolute(value))
                elif _kind_ok(list, value):
                    setattr(self, f.field.name, [_absolute(v) for v in value])

    def _field_problems(self) -> list[str]:
        problems = []
        for f in _fields(type(self)):
            value = getattr(self, f.field.name)
            choices = f.option.choices if f.option else None
            if value is None:
                if not f.optional:
                    problems.append(f"{f.label} is required"
                                    + (f" (one of {', '.join(choices)})" if choices else ""))
            elif not _kind_ok(f.kind, value):
                problems.append(f"{f.label} must be {_KIND_NAMES.get(f.kind, f.kind.__name__)}"
                                f", got {value!r}")
            elif f.kind is float and not math.isfinite(value):
                problems.append(f"{f.label} must be a finite number, got {value!r}")
            elif choices and value not in choices:
                problems.append(f"{f.label} must be one of {', '.join(choices)}, got {value!r}")
            elif f.option is not None and f.kind in (int, float):
                problem = f.option.range_problem(value)
                if problem:
                    problems.append(problem)
        return problems
