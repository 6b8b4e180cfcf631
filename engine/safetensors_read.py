"""Read a ``.safetensors`` file into private, 64-byte-aligned tensors, one tensor at a time.

Why not ``safetensors.torch.load_file``: it maps the file, so parameters stay backed by it (a
program that rewrites the file in place, as ``save_pretrained`` does, then crashes us with
SIGBUS) and sit at arbitrary, unaligned offsets; its copying backend reads the file into one
shared buffer. Here each tensor gets its own allocation and is filled with ``readinto``, so a
load costs one copy of the weights. Format: u64 little-endian header size, JSON header, data.
"""

from __future__ import annotations

import json
import math
import os
import struct

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


class SafetensorsFormatError(ValueError):
    """The file is not a complete, well-formed safetensors file."""


def _read_header(f, file_size: int) -> tuple[dict, int]:
    raw = f.read(8)
    if len(raw) < 8:
        raise SafetensorsFormatError(f"only {file_size} bytes, shorter than a header")
    (header_size,) = struct.unpack("<Q", raw)
    if header_size > file_size - 8:
        raise SafetensorsFormatError(f"header claims {header_size} bytes but the file has "
                                     f"{file_size}")
    try:
        header = json.loads(f.read(header_size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsFormatError(f"header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise SafetensorsFormatError("header is not a JSON object")
    header.pop("__metadata__", None)
    return header, 8 + header_size


def _check_entry(name: str, entry, data_size: int) -> tuple[torch.dtype, list[int], int, int]:
    try:
        dtype = DTYPES[entry["dtype"]]
        shape = [int(n) for n in entry["shape"]]
        start, end = (int(n) for n in entry["data_offsets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SafetensorsFormatError(f"bad header entry for {name} ({exc!r})") from exc
    itemsize = torch.empty((), dtype=dtype).element_size()
    if min(shape, default=0) < 0 or end - start != math.prod(shape) * itemsize or start < 0:
        raise SafetensorsFormatError(f"{name}: offsets {start}..{end} do not fit its shape "
                                     f"{shape} of {entry['dtype']}")
    if end > data_size:
        raise SafetensorsFormatError(f"{name} ends at byte {end} of the data but the file holds "
                                     f"{data_size}: the file is truncated")
    return dtype, shape, start, end


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        header, data_start = _read_header(f, file_size)
        tensors = {}
        for name, entry in header.items():
            dtype, shape, start, end = _check_entry(name, entry, file_size - data_start)
            buffer = torch.empty(end - start, dtype=torch.uint8)  # own, aligned allocation
            f.seek(data_start + start)
            if f.readinto(memoryview(buffer.numpy())) != end - start:
                raise SafetensorsFormatError(f"{name}: the file ended early")
            tensors[name] = buffer.view(dtype).reshape(shape)
        return tensors
