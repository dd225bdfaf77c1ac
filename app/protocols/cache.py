"""An on-disk cache of parsed protocol files, so a new process starts fast.

Reading YAML, validating it and rendering the Markdown of the whole library
takes a few hundred milliseconds, paid by every worker and every command. The
result of each file is kept as a small JSON file named after the file's path,
source and SHA-256, inside a folder named after the code that produced it (the
loader, the schema, the Markdown pipeline and the vocabulary, plus the library
versions they use). Change a protocol file or that code and the entry simply is
not found; nothing is ever served stale.

JSON, not pickle: a cache file is data and is never executed. The folder is
``$STILLPOINT_CACHE_DIR`` (set it empty to switch the cache off), else
``$XDG_CACHE_HOME/stillpoint`` or ``~/.cache/stillpoint``. A cache that cannot
be read or written is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "1"
MAX_AGE = 30 * 24 * 3600  # entries older than this are removed now and then
MAX_FILES = 2000
_CODE = ("library.py", "schema.py", "../markdown.py", "../vocab.py")
_PACKAGES = ("markdown", "nh3", "PyYAML")

Key = tuple[str, str, str]


def cache_root() -> Path | None:
    """The cache folder, or None when switched off or no home is known."""
    configured = os.environ.get("STILLPOINT_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        return Path(base or Path.home() / ".cache") / "stillpoint"
    except RuntimeError:  # no home directory
        return None


def code_fingerprint() -> str:
    """A hash of the code and library versions that turn a file into a Protocol."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(FORMAT.encode())
    here = Path(__file__).parent
    for name in _CODE:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    for package in _PACKAGES:
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(package.encode())
    return digest.hexdigest()[:20]


class LibraryCache:
    """get/put parsed results by (shown path, source, sha256); JSON via the given codec."""

    def __init__(self, encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> None:
        self.encode, self.decode = encode, decode
        self._folder: Path | bool | None = False  # False: not worked out yet

    def folder(self) -> Path | None:
        if self._folder is False:
            root = cache_root()
            self._folder = root / f"protocols-{code_fingerprint()}" if root else None
        return self._folder  # type: ignore[return-value]

    @staticmethod
    def _name(key: Key) -> str:
        return hashlib.sha256("\0".join(key).encode()).hexdigest()[:32] + ".json"

    def get(self, key: Key) -> Any | None:
        folder = self.folder()
        if folder is None:
            return None
        try:
            with open(folder / self._name(key), encoding="utf-8") as fh:
                stored = json.load(fh)
            if stored.get("key") != list(key):
                return None
            return self.decode(stored["value"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: Key, value: Any) -> None:
        folder = self.folder()
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            payload = json.dumps({"key": list(key), "value": self.encode(value)})
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, folder / self._name(key))
            if int.from_bytes(os.urandom(1), "big") < 3:  # about 1 put in 100
                self.prune()
        except (OSError, TypeError, ValueError):
            self._folder = None  # not writable: stop trying in this process

    def prune(self) -> None:
        """Remove entries older than ``MAX_AGE``, and the oldest beyond ``MAX_FILES``.

        Entries of throw-away files (the tests write many) must not pile up; a
        pruned entry of a file still in use is simply rendered again once.
        """
        folder = self.folder()
        if folder is None:
            return
        limit = time.time() - MAX_AGE
        entries = []
        for path in folder.parent.glob("protocols-*/*"):
            try:
                entries.append((path.stat().st_mtime, path))
            except OSError:
                continue
        entries.sort()
        excess = max(0, len(entries) - MAX_FILES)
        for n, (mtime, path) in enumerate(entries):
            if n < excess or mtime < limit:
                path.unlink(missing_ok=True)
