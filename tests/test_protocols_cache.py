"""The on-disk cache of parsed protocol files: same library, nothing stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.protocols import library
from app.protocols.cache import LibraryCache
from tests import protocol_samples as s


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache in tmp_path, and no parsed files remembered in this process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("STILLPOINT_CACHE_DIR", str(folder))
    monkeypatch.setattr(library, "_disk", LibraryCache(library._encode, library._decode))
    monkeypatch.setattr(library, "_parsed", {})
    return folder


def test_a_new_process_reads_the_cache_instead_of_parsing(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = tmp_path / "shipped"
    s.write(shipped, s.meta("tp-cached", title="Cached release"))
    s.write(shipped, s.meta("tp-broken", title=""))  # a problem is cached too
    first = library.load_library(shipped)
    assert list(fresh_cache.glob("protocols-*/*.json"))

    library._parsed.clear()  # as in a new process

    def no_parsing(*_args: object) -> None:
        raise AssertionError("parsed again although cached")

    monkeypatch.setattr(library, "_parse", no_parsing)
    second = library.load_library(shipped)
    assert second.protocols == first.protocols
    assert second.problems == first.problems
    cached = second.get("tp-cached")
    assert cached is not None and cached.body_html == first.get("tp-cached").body_html


def test_a_changed_file_is_parsed_again(tmp_path: Path, fresh_cache: Path) -> None:
    shipped = tmp_path / "shipped"
    s.write(shipped, s.meta("tp-edit", title="First title"))
    assert library.load_library(shipped).get("tp-edit").title == "First title"
    library._parsed.clear()
    s.write(shipped, s.meta("tp-edit", title="Second title"))
    assert library.load_library(shipped).get("tp-edit").title == "Second title"


def test_an_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("STILLPOINT_CACHE_DIR", str(blocker))
    monkeypatch.setattr(library, "_disk", LibraryCache(library._encode, library._decode))
    monkeypatch.setattr(library, "_parsed", {})
    shipped = tmp_path / "shipped"
    s.write(shipped, s.meta("tp-plain"))
    assert library.load_library(shipped).get("tp-plain") is not None
