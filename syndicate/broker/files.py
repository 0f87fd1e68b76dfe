"""The embedded mode's message broker: kombu's filesystem transport, made safe for two processes.

kombu's own transport (5.x) creates a message file, then writes it. A worker polling the folder
can take the file in between, read zero bytes, and fail to decode them; Celery treats that as an
unrecoverable error and the worker exits, leaving `serve` with no worker (kombu #1551 reports
the decode error). Here:

- a message is written under a hidden temporary name in the same folder and renamed into place,
  so a reader sees either nothing or the whole message;
- a message is taken by renaming it into the processed folder beside the queue, never by a copy
  across filesystems;
- a file that still cannot be decoded (written by something else, or cut short by a full disk)
  is moved to `rejected/` beside the queue folder and logged, and the worker goes on.

Everything else (folders, options, the queue in the file name) is kombu's.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from contextlib import suppress
from pathlib import Path
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

#: Celery's `broker_transport` value that selects this transport.
TRANSPORT = "syndicate.broker.files:Transport"


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic puts and a get that survives a bad file."""

    # kombu names this parameter `message` in the base class and `payload` here; we follow the parent.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        folder = self.data_folder_out
        # Readers take files in name order and pick their queue from the part after the first dot.
        # kombu stamps milliseconds, so messages put within one millisecond come out in random
        # order; nanoseconds, zero-padded to sort as text, keep one producer's messages in order.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        try:
            fd, temporary = tempfile.mkstemp(prefix=".put-", suffix=".part", dir=folder)
        except OSError as exc:
            raise ChannelError(f"cannot add a message to {folder!r}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(dumps(payload).encode())
            os.replace(temporary, os.path.join(folder, name))
        except OSError as exc:
            with suppress(OSError):
                os.unlink(temporary)
            raise ChannelError(f"cannot add a message to {folder!r}: {exc}") from exc

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            # Always into the processed folder (beside the queue, so a rename, which one consumer
            # wins); kombu moves to the temp dir when not keeping them, a copy across filesystems.
            taken = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue
            try:
                payload = Path(taken).read_bytes()
            except OSError as exc:
                raise ChannelError(f"cannot read message {taken!r}: {exc}") from exc
            try:
                message = loads(payload.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
                self._reject(taken, exc)
                continue
            if not self.store_processed:
                os.remove(taken)
            return message
        raise Empty()

    def _reject(self, path: str, exc: Exception) -> None:
        rejected = Path(self.data_folder_in).parent / "rejected"
        rejected.mkdir(exist_ok=True)
        shutil.move(path, rejected / Path(path).name)
        log.error("message file %s is not a message (%s); moved to %s", Path(path).name, exc, rejected)


class Transport(filesystem.Transport):
    """The filesystem transport with `Channel` above."""

    Channel = Channel
    # State is per transport class in kombu; keep ours apart from the stock transport's.
    global_state = filesystem.virtual.BrokerState()
