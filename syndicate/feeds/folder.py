"""Feed files on disk: atomic writes (temporary file + rename) and a per-feed build lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from syndicate.feeds.model import FeedSpec

LOCK_DIR = ".locks"


class FeedFolder:
    """The feeds root folder (PUBLIC_DIR/feeds, or `feeds build --out DIR`), laid out like /feeds/."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relpath: str) -> Path:
        """Absolute path of a file under the root."""
        return self.root / relpath

    def write(self, relpath: str, data: bytes, modified: datetime) -> bool:
        """Atomically replace the file with `data`; False (nothing touched) when it already holds it.

        The file's mtime is set to `modified` (the feed's updated time), so any web server serving
        the folder sends the same Last-Modified as the app. Readers see the old or the new file,
        never a partial one: the bytes are written and fsynced to a temporary file in the same
        folder, then renamed over the target.
        """
        target = self.path(relpath)
        with contextlib.suppress(FileNotFoundError):
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            stamp = modified.timestamp()
            os.utime(tmp, (stamp, stamp))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return True

    def remove(self, relpath: str) -> bool:
        """Delete the file; False when it did not exist."""
        try:
            self.path(relpath).unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def lock(self, spec: FeedSpec) -> Iterator[None]:
        """Exclusive lock for rebuilding one feed, across processes on this host (see also
        the service's `Locks` port, which it takes first, for workers on other hosts).

        Two workers rebuilding the same feed from different database snapshots could otherwise
        rename an older document over a newer one.
        """
        folder = self.root / LOCK_DIR
        folder.mkdir(parents=True, exist_ok=True)
        name = spec.key.replace(":", "_").replace("/", "_")
        with open(folder / f"{name}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
