"""A number every process of a server reads for the cost of a memory read: the one word of a
small memory-mapped file.

It tells workers that something they cache has changed in another process: the writer bumps
it after each change (holding the store's write lock, so bumps never race), and a reader whose
cached copy was taken at another value reads the store again.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

_WORD = struct.Struct("<Q")  # aligned 8 bytes: one load or store on 64-bit machines


class SharedCounter:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < _WORD.size:
                os.ftruncate(descriptor, _WORD.size)  # zeros; never shrinks a counter in use
            # The mapping outlives the descriptor, and a forked child shares it, as it should.
            self._map = mmap.mmap(descriptor, _WORD.size)
        finally:
            os.close(descriptor)

    def value(self) -> int:
        return _WORD.unpack_from(self._map)[0]

    def bump(self) -> None:
        """Add one. The caller holds a lock that every bumping process takes."""
        _WORD.pack_into(self._map, 0, (self.value() + 1) % 2**64)

    def close(self) -> None:
        self._map.close()
