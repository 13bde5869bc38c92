"""Declared layouts of misgen's HDF5 files, and the check every reader runs when it opens one.

Each file module (misgen/recording.py, misgen/svd_file.py, misgen/episodes.py) documents its layout in a table
and declares the same layout here as :class:`Dataset` and :class:`Attr` lists. :func:`check_layout` checks a
file against them: every required dataset and attr present, dtypes of the declared kind, and shapes that agree
through named sizes (``"T"`` in two shapes is one size; ``"T+"`` is at least that size). It raises one
:class:`MisgenError` naming the file and the field. Cross-field rules a shape cannot say (offsets that cover
D, labels from a fixed set) stay in the reader, after this check. Tests drop and damage each declared field in
turn (tests/test_bad_input.py), so a field added to a layout is checked and fuzzed from then on.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import h5py
import numpy as np

from misgen.errors import MisgenError, one_line

# numpy dtype kinds: f float, i signed, u unsigned, b bool, O object (h5py strings and vlen arrays), S bytes
FLOAT, INTEGER, BOOL, STRING, VLEN = "f", "iu", "b", "OS", "O"
# attr value kinds
ATTR_KINDS = ("int", "float", "bool", "str", "json_dict", "json_list", "int_pair")


@dataclass(frozen=True)
class Dataset:
    """A dataset at ``name`` whose shape is ``shape`` (ints, or size names bound across the file)."""

    name: str
    shape: tuple[str | int, ...]
    kinds: str  # accepted numpy dtype kinds
    optional: bool = False


@dataclass(frozen=True)
class Attr:
    """An attribute ``name`` holding a value of ``kind`` (:data:`ATTR_KINDS`)."""

    name: str
    kind: str
    optional: bool = False


def _attr_value(value, kind: str):
    """The attr's value as Python, or raise ValueError if it is not of ``kind``."""
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif kind == "int":
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return float(value)
    elif kind == "str":
        if isinstance(value, (str, bytes)):
            return value.decode() if isinstance(value, bytes) else value
    elif kind == "int_pair":
        array = np.asarray(value)
        if array.shape == (2,) and array.dtype.kind in INTEGER:
            return tuple(int(v) for v in array)
    elif kind in ("json_dict", "json_list"):
        if isinstance(value, (str, bytes)):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("not valid JSON") from None
            if isinstance(parsed, dict if kind == "json_dict" else list):
                return parsed
    raise ValueError(f"expected {kind.replace('_', ' ')}, found {type(value).__name__} {str(value)[:40]!r}")


def read_attrs(node: h5py.Group | h5py.File, path: Path, attrs: list[Attr], where: str = "") -> dict:
    """The declared attrs of ``node`` as Python values (absent optional ones left out)."""
    values = {}
    for attr in attrs:
        if attr.name not in node.attrs:
            if attr.optional:
                continue
            raise MisgenError(f"{path}: attr {where + attr.name!r} is missing")
        try:
            values[attr.name] = _attr_value(node.attrs[attr.name], attr.kind)
        except (ValueError, TypeError, OSError) as error:
            raise MisgenError(f"{path}: attr {where + attr.name!r}: {error}") from None
    return values


def check_datasets(node: h5py.Group | h5py.File, path: Path, datasets: list[Dataset],
                   sizes: dict[str, int] | None = None, where: str = "") -> dict[str, int]:
    """Check the declared datasets of ``node``; returns the named sizes (``sizes`` given are fixed already)."""
    sizes = dict(sizes or {})
    bound_by = {name: "the caller" for name in sizes}
    at_least: list[tuple[Dataset, str, int]] = []
    for spec in datasets:
        item = node.get(spec.name)
        if item is None:
            if spec.optional:
                continue
            raise MisgenError(f"{path}: dataset {where + spec.name!r} is missing")
        if not isinstance(item, h5py.Dataset):
            raise MisgenError(f"{path}: {where + spec.name!r} is a group, not a dataset")
        if item.dtype.kind not in spec.kinds:
            raise MisgenError(f"{path}: dataset {where + spec.name!r} has dtype {item.dtype}, expected "
                              f"{_kind_names(spec.kinds)}")
        if len(item.shape) != len(spec.shape):
            raise MisgenError(f"{path}: dataset {where + spec.name!r} has shape {item.shape}, expected "
                              f"{_shape_text(spec.shape)}")
        for size, expected in zip(item.shape, spec.shape):
            if isinstance(expected, int):
                if size != expected:
                    raise MisgenError(f"{path}: dataset {where + spec.name!r} has shape {item.shape}, expected "
                                      f"{_shape_text(spec.shape)}")
            elif expected.endswith("+"):
                at_least.append((spec, expected[:-1], size))
            elif expected in sizes and sizes[expected] != size:
                raise MisgenError(f"{path}: dataset {where + spec.name!r} has shape {item.shape}: its {expected} "
                                  f"is {size}, but {sizes[expected]} in {bound_by[expected]!r}")
            else:
                sizes[expected] = size
                bound_by[expected] = where + spec.name
    for spec, name, size in at_least:
        if name in sizes and size < sizes[name]:
            raise MisgenError(f"{path}: dataset {where + spec.name!r} has {size} rows, fewer than {name} = "
                              f"{sizes[name]}")
    return sizes


def _kind_names(kinds: str) -> str:
    names = {"f": "float", "i": "integer", "u": "unsigned", "b": "bool", "O": "string", "S": "bytes"}
    return " or ".join(names[k] for k in kinds)


def _shape_text(shape: tuple[str | int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# HDF5's Fletcher-32 filter on every numeric dataset misgen writes: reading a chunk whose bytes changed fails.
# (HDF5 takes no filter on variable-length data: names, labels and shapes go without; the readers cross-check them.)
CHECKSUM = {"fletcher32": True}
_NOTED_UNCHECKED: set[str] = set()


def read_dataset(dataset: h5py.Dataset, path: Path, selection=()) -> np.ndarray:
    """``dataset[selection]``, with a failed read (a checksum that does not match, damaged storage) raised as one
    :class:`MisgenError` naming the file and the dataset."""
    try:
        return dataset[selection]
    except OSError as error:
        raise MisgenError(f"{path}: dataset {dataset.name.lstrip('/')!r} cannot be read: its checksum fails or its "
                          f"storage is damaged ({one_line(error)})") from None


def note_unchecked(file: h5py.File, path: Path) -> None:
    """Say once per file, on stderr, that a file written before checksums (none of its numeric datasets has one)
    has nothing to verify."""
    key = str(Path(path).resolve())
    if key in _NOTED_UNCHECKED:
        return
    numeric = []
    file.visititems(lambda name, item: numeric.append(item.fletcher32) if isinstance(item, h5py.Dataset)
                    and item.dtype.kind in "fiub" and item.shape else None)
    if numeric and not any(numeric):
        _NOTED_UNCHECKED.add(key)
        print(f"misgen: note: {path} was written before misgen stored checksums: damage to its data cannot be "
              "detected", file=sys.stderr)


def open_hdf5(path: Path, what: str, **kwargs) -> h5py.File:
    """Open ``path`` for reading, or raise one MisgenError saying why not (``what``: 'recording', 'svd file')."""
    if not path.is_file():
        raise MisgenError(f"{path}: no such {what}")
    try:
        return h5py.File(path, "r", **kwargs)
    except OSError as error:
        raise MisgenError(f"{path}: not a readable HDF5 file ({one_line(error)})") from None


_TYPE_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "tuple[str, ...]": lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v),
}


def dataclass_from_json(cls, values, where: str):
    """``cls(**values)`` for a dataclass read from a file (a run's config.json, a model zip's env config), each
    field's JSON type checked against the dataclass's annotation first and every problem raised as one
    :class:`MisgenError` starting with ``where`` (the file and the field). Fields left out take their defaults
    (files written before the field existed)."""
    if not isinstance(values, dict):
        raise MisgenError(f"{where}: expected a JSON object, found {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise MisgenError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    parsed = {}
    for name, value in values.items():
        kind = known[name].type
        check = _TYPE_CHECKS.get(kind)
        if check is not None and not check(value):
            raise MisgenError(f"{where}.{name}: expected {kind}, found {json.dumps(value)[:60]}")
        parsed[name] = tuple(value) if kind.startswith("tuple") else value
    try:
        return cls(**parsed)
    except (ValueError, TypeError, MisgenError) as error:
        raise MisgenError(f"{where}: {error}") from None
