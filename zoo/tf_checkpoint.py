"""Read TensorFlow V2 checkpoints (`prefix.index` + `prefix.data-NNNNN-of-NNNNN`) with numpy alone.

The `.index` file is a LevelDB-format sorted table: data blocks of prefix-compressed key/value entries with restart
points, an index block of block handles, and a 48-byte footer ending in the table magic number. Its keys are tensor
names; its values are `BundleEntryProto` messages (dtype, shape, shard id, offset, size, masked crc32c), and the
empty key holds the `BundleHeaderProto` (number of shards, endianness). Tensor bytes sit raw and little-endian in
the data shards. Every block and every tensor read is checked against its crc32c, so a truncated or corrupted file
gives a `CheckpointFormatError` naming the file (and the tensor) instead of garbage. Nothing in a checkpoint is ever
executed: only the table and the raw tensor bytes are read.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

import numpy as np

from .loading import CheckpointError

__all__ = ["CheckpointFormatError", "TFCheckpoint", "find_checkpoint", "crc32c"]

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type byte + masked crc32c

# tensorflow/core/framework/types.proto -> numpy (little-endian)
DTYPES = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"), 5: np.dtype("<i2"),
    6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"), 17: np.dtype("<u2"), 19: np.dtype("<f2"),
    22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
DTYPE_NAMES = {7: "string", 8: "complex64", 14: "bfloat16", 18: "complex128"}


class CheckpointFormatError(CheckpointError):
    """A checkpoint file that is truncated, corrupted or not in the format it claims."""


# ------------------------------------------------------------------------------------------- crc32c

def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc_table()
_TABLE_LIST = [int(x) for x in _TABLE]
# slicing-by-4: _WORD[k][b] advances the crc of byte b over k further zero bytes
_WORD = [_TABLE]
for _ in range(3):
    _WORD.append((_WORD[-1] >> np.uint32(8)) ^ _TABLE[_WORD[-1] & 0xFF])
_CHUNK = 1024
_BATCH = 8192  # chunks per numpy pass (8 MiB)
_SHIFT: list[list[int]] | None = None  # byte tables of "advance a raw crc state over _CHUNK zero bytes"


def _raw_update(state: int, data: bytes) -> int:
    table = _TABLE_LIST
    for b in data:
        state = table[(state ^ b) & 0xFF] ^ (state >> 8)
    return state


def _shift_tables() -> list[list[int]]:
    global _SHIFT
    if _SHIFT is None:
        zeros = bytes(_CHUNK)
        _SHIFT = [[_raw_update(v << (8 * j), zeros) for v in range(256)] for j in range(4)]
    return _SHIFT


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C (Castagnoli) of `data`. Large inputs run column-wise in numpy: the raw crc of many 1 KiB chunks at
    once (four bytes a step), then chained: the register update is linear over GF(2), so
    state' = advance(state) ^ raw(chunk)."""
    data = memoryview(data).cast("B")
    n_chunks = len(data) // _CHUNK if len(data) >= 8 * _CHUNK else 0
    state = 0xFFFFFFFF
    if n_chunks:
        words = np.frombuffer(data[: n_chunks * _CHUNK], dtype="<u4").reshape(n_chunks, _CHUNK // 4)
        w0, w1, w2, w3 = _WORD
        t0, t1, t2, t3 = _shift_tables()
        for start in range(0, n_chunks, _BATCH):  # batches small enough for the transpose to stay in cache
            raw = np.zeros(min(_BATCH, n_chunks - start), dtype=np.uint32)
            for col in np.ascontiguousarray(words[start:start + _BATCH].T):  # one 4-byte word of every chunk a step
                raw ^= col
                nxt = w3[raw & 0xFF]
                nxt ^= w2[(raw >> 8) & 0xFF]
                nxt ^= w1[(raw >> 16) & 0xFF]
                nxt ^= w0[raw >> 24]
                raw = nxt
            for r in raw.tolist():
                state = t0[state & 0xFF] ^ t1[(state >> 8) & 0xFF] ^ t2[(state >> 16) & 0xFF] ^ t3[state >> 24] ^ r
    state = _raw_update(state, data[n_chunks * _CHUNK:])
    return state ^ 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """LevelDB / TF store crcs 'masked' (rotated and offset) so that crcs of crc-bearing data stay distinct."""
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------- varints & protobuf

def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes):
    """(field number, wire type, value) of a serialized protobuf message; length-delimited values are bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise ValueError("truncated fixed64")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos, end)
            if pos + size > end:
                raise ValueError("truncated length-delimited field")
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire == 5:
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


class _Entry:
    __slots__ = ("dtype", "shape", "shard", "offset", "size", "crc", "sliced")

    def __init__(self, buf: bytes):
        self.dtype, self.shape, self.shard, self.offset, self.size, self.crc = 0, [], 0, 0, 0, None
        self.sliced = False
        for number, _, value in _proto_fields(buf):
            if number == 1:
                self.dtype = value
            elif number == 2:
                for n, _, dim in _proto_fields(value):
                    if n == 2:
                        self.shape.append(next((v for k, _, v in _proto_fields(dim) if k == 1), 0))
                    elif n == 3 and dim:
                        raise ValueError("tensor of unknown rank")
            elif number == 3:
                self.shard = value
            elif number == 4:
                self.offset = value
            elif number == 5:
                self.size = value
            elif number == 6:
                self.crc = value
            elif number == 7:
                self.sliced = True


# ------------------------------------------------------------------------------------------ the table

class _Table:
    """A LevelDB-format table file (TensorFlow's checkpoint index): footer, checksummed blocks, prefix-compressed
    entries with restart points."""

    def __init__(self, path: Path):
        self.path, self.data = path, path.read_bytes()
        self.footer = len(self.data) - FOOTER_SIZE

    def fail(self, why: str):
        raise CheckpointFormatError(f"{self.path}: not a readable TensorFlow checkpoint index ({why})")

    def index_handle(self) -> tuple[int, int]:
        data, footer = self.data, self.footer
        if len(data) < FOOTER_SIZE:
            self.fail(f"{len(data)} bytes, shorter than the table footer")
        if struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
            self.fail("bad magic number: truncated, or not a TensorFlow V2 checkpoint")
        try:
            _, pos = _varint(data, footer, footer + 40)  # metaindex handle (unused)
            _, pos = _varint(data, pos, footer + 40)
            index_offset, pos = _varint(data, pos, footer + 40)
            index_size, _ = _varint(data, pos, footer + 40)
        except ValueError as err:
            self.fail(f"footer: {err}")
        return index_offset, index_size

    def block(self, offset: int, size: int, what: str) -> bytes:
        data = self.data
        if offset + size + BLOCK_TRAILER > self.footer:
            self.fail(f"{what} at {offset}+{size} runs past the end of the file")
        kind = data[offset + size]
        if kind != 0:
            name = {1: "snappy", 2: "zlib"}.get(kind, f"type {kind}")
            self.fail(f"{what} is {name}-compressed; TensorFlow's checkpoint writer stores blocks uncompressed and "
                      "this reader does not decompress. Re-save the checkpoint with TensorFlow's default options")
        stored = struct.unpack_from("<I", data, offset + size + 1)[0]
        if crc32c(data[offset:offset + size + 1]) != unmask_crc(stored):
            self.fail(f"{what} at offset {offset} fails its crc32c check (corrupted)")
        return data[offset:offset + size]

    def entries(self, raw: bytes, what: str):
        if len(raw) < 4:
            self.fail(f"{what} is too short")
        restarts = struct.unpack_from("<I", raw, len(raw) - 4)[0]
        end = len(raw) - 4 - 4 * restarts
        if end < 0:
            self.fail(f"{what} has a bad restart count")
        pos, key = 0, b""
        try:
            while pos < end:
                shared, pos = _varint(raw, pos, end)
                unshared, pos = _varint(raw, pos, end)
                vlen, pos = _varint(raw, pos, end)
                if shared > len(key) or pos + unshared + vlen > end:
                    raise ValueError("entry runs past the block")
                key = key[:shared] + raw[pos:pos + unshared]
                pos += unshared
                yield key, raw[pos:pos + vlen]
                pos += vlen
        except ValueError as err:
            self.fail(f"{what}: {err}")


def _read_table(path: Path) -> dict[str, bytes]:
    """All key/value pairs of a LevelDB-format table file."""
    t = _Table(path)
    table = {}
    for _, handle in t.entries(t.block(*t.index_handle(), "index block"), "index block"):
        try:
            offset, pos = _varint(handle, 0, len(handle))
            size, _ = _varint(handle, pos, len(handle))
        except ValueError as err:
            t.fail(f"index block handle: {err}")
        what = f"data block at {offset}"
        for key, value in t.entries(t.block(offset, size, what), what):
            table[key.decode("utf-8", "replace")] = value
    return table


# ----------------------------------------------------------------------------------------- checkpoint

class TFCheckpoint:
    """A TF V2 checkpoint: `names()`, `shape(name)` and `read(name) -> np.ndarray`, crc-checked.

    `prefix` is the path without `.index` (e.g. `folder/bert_model.ckpt`), or the `.index` file itself."""

    def __init__(self, prefix: str | Path):
        prefix = Path(prefix)
        if prefix.name.endswith(".index"):
            prefix = prefix.with_name(prefix.name[: -len(".index")])
        self.prefix = prefix
        self.index_file = prefix.with_name(prefix.name + ".index")
        if not self.index_file.is_file():
            raise CheckpointFormatError(f"no checkpoint index {self.index_file}")
        table = _read_table(self.index_file)
        header = table.pop("", None)
        self.num_shards = 1
        if header is not None:
            try:
                for number, _, value in _proto_fields(header):
                    if number == 1:
                        self.num_shards = value
                    elif number == 2 and value != 0:
                        raise CheckpointFormatError(f"{self.index_file}: big-endian checkpoints are not supported")
            except ValueError as err:
                raise CheckpointFormatError(f"{self.index_file}: bad bundle header ({err})") from None
        self._entries: dict[str, _Entry] = {}
        for name, value in table.items():
            try:
                self._entries[name] = _Entry(value)
            except ValueError as err:
                raise CheckpointFormatError(f"{self.index_file}: bad entry for tensor {name!r} ({err})") from None
        self._shards: dict[int, mmap.mmap | bytes] = {}

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._entry(name).shape)

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"{self.prefix}: no tensor {name!r}") from None

    def shard_file(self, shard: int) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}.data-{shard:05d}-of-{self.num_shards:05d}")

    def _shard(self, shard: int, name: str) -> bytes:
        if shard not in self._shards:
            file = self.shard_file(shard)
            if not file.is_file():
                raise CheckpointFormatError(f"{file}: missing data shard for tensor {name!r}")
            with open(file, "rb") as f:  # mapped, not read: a 400 MB shard is paged in tensor by tensor
                try:
                    self._shards[shard] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                except ValueError:  # an empty file cannot be mapped
                    self._shards[shard] = b""
        return self._shards[shard]

    def close(self) -> None:
        for data in self._shards.values():
            if isinstance(data, mmap.mmap):
                data.close()
        self._shards.clear()

    def __enter__(self) -> TFCheckpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, name: str) -> np.ndarray:
        entry = self._entry(name)
        where = f"tensor {name!r} of {self.prefix}"
        if entry.sliced:
            raise CheckpointFormatError(f"{where} is a partitioned variable; partitioned checkpoints are not supported")
        dtype = DTYPES.get(entry.dtype)
        if dtype is None:
            kind = DTYPE_NAMES.get(entry.dtype, f"dtype enum {entry.dtype}")
            raise CheckpointFormatError(f"{where} has dtype {kind}, which is not read (weights are numeric)")
        count = int(np.prod(entry.shape, dtype=np.int64))
        if count * dtype.itemsize != entry.size:
            raise CheckpointFormatError(
                f"{where}: index says {entry.size} bytes but shape {entry.shape} of {dtype} needs "
                f"{count * dtype.itemsize} (corrupted index)")
        if entry.shard >= self.num_shards:
            raise CheckpointFormatError(f"{where}: shard {entry.shard} of {self.num_shards} (corrupted index)")
        data = self._shard(entry.shard, name)
        file = self.shard_file(entry.shard)
        if entry.offset + entry.size > len(data):
            raise CheckpointFormatError(
                f"{file} is truncated: tensor {name!r} needs bytes {entry.offset}..{entry.offset + entry.size}, "
                f"the file has {len(data)}")
        raw = memoryview(data)[entry.offset:entry.offset + entry.size]
        try:
            if entry.crc is not None and crc32c(raw) != unmask_crc(entry.crc):
                raise CheckpointFormatError(f"{file}: tensor {name!r} fails its crc32c check (corrupted data)")
            return np.frombuffer(raw, dtype=dtype).reshape(entry.shape).astype(dtype.newbyteorder("="), copy=True)
        finally:
            raw.release()  # no view may outlive the mapping

    def items(self):
        for name in self.names():
            yield name, self.read(name)


def find_checkpoint(folder: Path) -> Path | None:
    """The checkpoint prefix in a folder: the one named by the `checkpoint` state file, else the only `*.index`."""
    folder = Path(folder)
    indexes = sorted(p for p in folder.glob("*.index") if p.is_file())
    if not indexes:
        return None
    state = folder / "checkpoint"
    if state.is_file():
        for line in state.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model_checkpoint_path":
                name = Path(value.strip().strip('"')).name  # a path from another machine: only the file name counts
                if (folder / f"{name}.index").is_file():
                    return folder / name
    if len(indexes) > 1:
        raise CheckpointError(f"{folder} holds several checkpoints {[p.name for p in indexes]} and no `checkpoint` "
                              "file names one; pass the prefix (e.g. folder/model.ckpt-1000)")
    return indexes[0].with_name(indexes[0].name[: -len(".index")])
