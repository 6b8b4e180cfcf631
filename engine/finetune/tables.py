"""Labelled text examples from CSV, TSV or JSONL files, for classification and regression.

The format follows the extension (``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``). Columns are named
by the header (CSV/TSV) or the keys (JSONL); a header-less CSV/TSV names them by 0-based number
("0", "3"). Every problem becomes a ``FinetuneDataError`` naming the file and the line, so a user
can open the file at the right place.

Files are read line by line as bytes and decoded one line at a time: a bad byte is then reported
at its line, and memory holds the examples, never the raw file twice.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.finetune.errors import FinetuneDataError

PROBLEMS = ("single", "multi", "regress")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# csv's default cap (128 KiB per field) is too small for long documents; 64 MiB is more than any
# real text example, and still stops an unbalanced quote from swallowing a whole large file.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_LISTED_LABELS = 20


@dataclass(frozen=True)
class TextExample:
    """One labelled (or, for prediction, unlabelled) text or text pair."""

    text_a: str
    text_b: str | None
    # class name (single), float (regress), tuple of class names (multi); None when unlabelled
    label: str | float | tuple[str, ...] | None
    line: int  # 1-based line where the record starts, for error messages


@dataclass(frozen=True)
class _Columns:
    text_a: str
    text_b: str | None
    label: str | None

    def named(self) -> list[tuple[str, str]]:
        """(role, column) for the columns asked for."""
        roles = (("text_a", self.text_a), ("text_b", self.text_b), ("label", self.label))
        return [(role, column) for role, column in roles if column is not None]


# ----- public API -----

def read_examples(path: str | os.PathLike, text_a: str, text_b: str | None, label: str | None, *,
                  problem: str = "single", label_separator: str = ",",
                  has_header: bool = True) -> list[TextExample]:
    """Examples of a CSV, TSV or JSONL file; ``label=None`` reads an unlabelled (prediction) file.

    ``problem``: "single" (label = class name), "multi" (class names split at ``label_separator``
    in CSV/TSV cells, or a JSON list; an empty cell means no class applies) or "regress" (a number).
    """
    examples, _ = read_examples_and_skipped_rows(
        path, text_a, text_b, label, problem=problem, label_separator=label_separator,
        has_header=has_header)
    return examples


def read_examples_and_skipped_rows(path: str | os.PathLike, text_a: str, text_b: str | None,
                                   label: str | None, *, problem: str = "single",
                                   label_separator: str = ",", has_header: bool = True,
                                   skip_short_rows: bool = False) -> tuple[list[TextExample], int]:
    """``read_examples``, and the number of skipped rows: with ``skip_short_rows``, CSV/TSV rows
    with too few fields are skipped and counted instead of refused (as GLUE-standard code does
    for QQP's broken rows). Returns (examples, skipped rows)."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}; got {problem!r}")
    path = require_file(path)
    columns = _Columns(text_a, text_b, label)
    fmt = _file_format(path)
    if fmt == "jsonl":
        return _jsonl_examples(path, columns, problem, label_separator), 0
    return _table_examples(path, fmt, columns, problem, label_separator, has_header, skip_short_rows)


def label_vocabulary(train: Iterable[TextExample], problem: str) -> list[str]:
    """The class names seen in the training examples, sorted: numerically when every name looks
    like a number ("2" before "10"), else alphabetically. These are the class ids, in order."""
    if problem == "regress":
        raise ValueError("regression labels are numbers; there is no class vocabulary")
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}; got {problem!r}")
    names: set[str] = set()
    for example in train:
        names.update(_class_names(example.label))
    return sort_class_names(names)


def sort_class_names(names: Iterable[str]) -> list[str]:
    """Numerically when every name looks like a number, else alphabetically."""
    names = list(names)
    if all(_NUMBER.fullmatch(name) for name in names):
        return sorted(names, key=lambda name: (float(name), name))
    return sorted(names)


def check_labels_known(examples: Iterable[TextExample], labels: Sequence[str],
                       path: str | os.PathLike, *, known_from: str = "the training file") -> None:
    """Refuse the first example whose class name is not in ``labels`` (regression labels and
    unlabelled examples pass): a model cannot predict, nor be scored on, a class it never saw."""
    known = set(labels)
    for example in examples:
        for name in _class_names(example.label):
            if name not in known:
                raise FinetuneDataError(
                    path, f"label {name!r} never appears in {known_from} "
                          f"(its labels: {listing(labels)})", example.line)


def listing(names: Sequence[str]) -> str:
    """Names joined by commas, cut after a screenful."""
    shown = ", ".join(names[:_LISTED_LABELS])
    return shown if len(names) <= _LISTED_LABELS else f"{shown}, … ({len(names)} in all)"


# ----- files and lines -----

def require_file(path: str | os.PathLike) -> Path:
    """The path, if it is a readable file."""
    path = Path(path)
    if path.is_dir():
        raise FinetuneDataError(path, "is a folder, not a file")
    if not path.is_file():
        raise FinetuneDataError(path, "no such file")
    return path


def utf8_lines(path: Path) -> Iterator[str]:
    """The file's lines (line endings kept, a leading BOM dropped), decoded one at a time so that
    undecodable bytes are reported at their line."""
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise FinetuneDataError(path, f"not valid UTF-8 (byte {raw[e.start]:#04x} at "
                                                  f"column {e.start + 1}); save the file as UTF-8",
                                            number) from None
    except OSError as e:
        raise FinetuneDataError(path, f"cannot read ({e.strerror or e})") from None


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        raise FinetuneDataError(path, "a .txt file has no columns to take texts and labels from; "
                                      "save it as .csv, .tsv or .jsonl")
    if suffix not in FORMATS:
        raise FinetuneDataError(path, f"unknown format {suffix or '(no extension)'!r}: "
                                      f"use {', '.join(FORMATS)}")
    return FORMATS[suffix]


# ----- CSV / TSV -----

def _table_rows(path: Path, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for each non-blank record."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    if fmt == "tsv":
        # GLUE's TSVs hold unbalanced quotes: quotes are plain text there.
        reader = csv.reader(utf8_lines(path), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(utf8_lines(path), strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise FinetuneDataError(path, _csv_problem(e), start) from None
        if fields:
            yield start, fields
        start = reader.line_num + 1


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "unexpected end of data" in text:
        return 'a quoted field that starts in this record is never closed (an unbalanced ")'
    if "field larger than field limit" in text:
        return (f"a field longer than {FIELD_SIZE_LIMIT // 2**20} MiB starts in this record "
                f'(an unbalanced "?)')
    return f"malformed CSV ({text})"


def _table_examples(path: Path, fmt: str, columns: _Columns, problem: str, separator: str,
                    has_header: bool, skip_short_rows: bool) -> tuple[list[TextExample], int]:
    rows = _table_rows(path, fmt)
    header = next(rows, None) if has_header else None
    if has_header and header is None:
        raise FinetuneDataError(path, "the file is empty")
    indices = {role: _column_index(path, column, header) for role, column in columns.named()}
    needed = max(indices.values()) + 1
    examples, skipped = [], 0
    for line, fields in rows:
        if len(fields) < needed:
            if skip_short_rows:
                skipped += 1
                continue
            raise FinetuneDataError(path, _short_row_problem(fmt, fields, columns, indices), line)
        cells = {role: fields[index] for role, index in indices.items()}
        examples.append(_example(path, line, cells, columns, problem, separator))
    if not examples:
        raise FinetuneDataError(path, _no_rows_problem(header, skipped))
    return examples, skipped


def _column_index(path: Path, column: str, header: tuple[int, list[str]] | None) -> int:
    if header is None:
        if not column.isdigit():
            raise FinetuneDataError(path, f"the file has no header, so columns are 0-based "
                                          f"numbers such as '0' or '3'; got {column!r}")
        return int(column)
    line, names = header
    stripped = [name.strip() for name in names]
    if column.strip() in stripped:
        return stripped.index(column.strip())
    if column.isdigit() and int(column) < len(names):
        return int(column)
    raise FinetuneDataError(path, f"no column {column!r} (its columns: {listing(stripped)})", line)


def _short_row_problem(fmt: str, fields: list[str], columns: _Columns,
                       indices: dict[str, int]) -> str:
    role = next(role for role, index in indices.items() if index >= len(fields))
    column = getattr(columns, role)
    delimiter = "tab" if fmt == "tsv" else "comma"
    return (f"the row has {len(fields)} field{'s' if len(fields) != 1 else ''}, too few for "
            f"column {column!r} (field {indices[role] + 1}); a missing {delimiter}?")


def _no_rows_problem(header, skipped: int) -> str:
    if skipped:
        return f"no usable rows: all {skipped} rows have too few fields"
    if header is not None:
        return "the file has a header but no rows"
    return "the file is empty"


# ----- JSONL -----

def _jsonl_examples(path: Path, columns: _Columns, problem: str,
                    separator: str) -> list[TextExample]:
    examples = []
    for line, text in enumerate(utf8_lines(path), start=1):
        if not text.strip():
            continue
        record = _json_object(path, line, text)
        cells = {role: _json_value(path, line, record, key) for role, key in columns.named()}
        examples.append(_example(path, line, cells, columns, problem, separator))
    if not examples:
        raise FinetuneDataError(path, "the file is empty")
    return examples


def _json_object(path: Path, line: int, text: str) -> dict:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise FinetuneDataError(path, f"malformed JSON ({e.msg} at column {e.colno})", line) from None
    if not isinstance(record, dict):
        raise FinetuneDataError(path, f"the line holds a JSON {_json_kind(record)}, not an object "
                                      f"({{\"key\": value, …}})", line)
    return record


def _json_value(path: Path, line: int, record: dict, key: str):
    if key not in record:
        raise FinetuneDataError(path, f"no key {key!r} on this line "
                                      f"(its keys: {listing(list(record))})", line)
    return record[key]


def _json_kind(value) -> str:
    kinds = ((bool, "boolean"), (str, "string"), ((int, float), "number"), (list, "array"),
             (dict, "object"))
    return next((kind for types, kind in kinds if isinstance(value, types)), "null")


# ----- cells -> example -----

def _example(path: Path, line: int, cells: dict, columns: _Columns, problem: str,
             separator: str) -> TextExample:
    text_a = _text(path, line, cells["text_a"], columns.text_a)
    if not text_a.strip():
        raise FinetuneDataError(path, f"empty text in column {columns.text_a!r}", line)
    text_b = _text(path, line, cells["text_b"], columns.text_b) if columns.text_b is not None else None
    label = None
    if columns.label is not None:
        label = _label(path, line, cells["label"], columns.label, problem, separator)
    return TextExample(text_a, text_b, label, line)


def _text(path: Path, line: int, value, column: str) -> str:
    if not isinstance(value, str):
        raise FinetuneDataError(path, f"column {column!r} holds a JSON {_json_kind(value)}, "
                                      f"not text", line)
    return value


def _label(path: Path, line: int, value, column: str, problem: str, separator: str):
    if problem == "regress":
        return _number_label(path, line, value, column)
    if problem == "multi":
        return _multi_label(path, line, value, column, separator)
    name = _class_name(path, line, value, column)
    if not name:
        raise FinetuneDataError(path, f"empty label in column {column!r}", line)
    return name


def _class_name(path: Path, line: int, value, column: str) -> str:
    """A class name from a cell: text, or a JSON integer (0, 1) read as its digits."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FinetuneDataError(path, f"label column {column!r} holds a JSON {_json_kind(value)}; "
                                  f"a class name must be text or an integer", line)


def _number_label(path: Path, line: int, value, column: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        if not value.strip():
            raise FinetuneDataError(path, f"empty label in column {column!r}", line)
        try:
            number = float(value)
        except ValueError:
            raise FinetuneDataError(path, f"regression label {value.strip()!r} in column "
                                          f"{column!r} is not a number", line) from None
    else:
        raise FinetuneDataError(path, f"regression label in column {column!r} is a JSON "
                                      f"{_json_kind(value)}, not a number", line)
    if not math.isfinite(number):
        raise FinetuneDataError(path, f"regression label {value!r} in column {column!r} is not "
                                      f"a finite number", line)
    return number


def _multi_label(path: Path, line: int, value, column: str, separator: str) -> tuple[str, ...]:
    """Class names, duplicates dropped, in order of appearance; an empty cell or list means that
    no class applies (a legitimate multi-label target)."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(separator)]
        names = [name for name in names if name]
    elif isinstance(value, list):
        names = [_class_name(path, line, item, column) for item in value]
        if not all(names):
            raise FinetuneDataError(path, f"empty class name in the label list of column "
                                          f"{column!r}", line)
    else:
        raise FinetuneDataError(path, f"multi-label column {column!r} holds a JSON "
                                      f"{_json_kind(value)}; give a list of class names or "
                                      f"text like 'a{separator}b'", line)
    return tuple(dict.fromkeys(names))


def _class_names(label) -> tuple[str, ...]:
    """The class names of a label: none for regression or unlabelled examples."""
    if isinstance(label, tuple):
        return label
    return (label,) if isinstance(label, str) else ()
