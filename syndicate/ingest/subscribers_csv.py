"""Importing subscribers from CSV (`email[,name,language]`), streamed and bounded.

The file is checked as a whole (UTF-8, a header naming `email`) before anything is written, so a
file that cannot be read leaves the database as it was. Rows are then read `chunk_rows` at a
time; a chunk is validated, added in a few statements (`subscribers.add_subscribers`, the rules of
adding one reader) and committed: a 400,000-row file needs neither the whole text in memory nor
one transaction holding the database's write lock for minutes. An import stopped midway (the
server shut down, the process killed) keeps the chunks it committed; the same file imported
again completes it, counting those rows as already known. A bad row (an invalid address, a
field over the limit, a language that is not a tag, a CSV syntax error) is reported by line and
the rest are imported; a valid language is stored canonical (`EN_us` → `en-US`).
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from syndicate.digests import subscribers as subs
from syndicate.digests.addresses import normalize_email
from syndicate.digests.ports import MailingList
from syndicate.digests.states import SUPPRESSED, SubscriptionStatus
from syndicate.domain.languages import parse_language
from syndicate.errors import InvalidDigestInput, InvalidEmail

MAX_CELL = 1000  # characters in one CSV cell; an address is at most 254, a name is kept to 200
MAX_ERRORS_KEPT = 1000  # error lines a report keeps; the count goes on past them
COLUMNS = ("email", "name", "language")


@dataclass
class CsvRow:
    """One data row: its line number and cells, or the reason it cannot be read."""

    line: int
    cells: list[str]
    error: str | None = None


def check_utf8(path: Path) -> None:
    """Raise InvalidDigestInput naming the file unless it is readable UTF-8 (read in blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    raise InvalidDigestInput(
                        f"{path}: cannot read as UTF-8 CSV: invalid byte at offset {offset + exc.start}"
                    ) from None
                offset += len(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidDigestInput(f"{path}: cannot read as UTF-8 CSV: it ends inside a character") from None
    except OSError as exc:
        raise InvalidDigestInput(f"{path}: cannot read: {exc.strerror}") from None


def read_rows(path: Path, header: list[str]) -> Iterator[CsvRow]:
    """The data rows of `path` after its header; oversized or malformed rows carry an error."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header[:] = [h.strip().lower() for h in next(reader, [])]
        except csv.Error as exc:
            raise InvalidDigestInput(f"{path}: line 1: header row cannot be read as CSV: {exc}") from None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (131,072)
                yield CsvRow(reader.line_num, [], f"cannot be read as CSV: {exc}")
                continue
            long = next((i for i, c in enumerate(cells) if len(c) > MAX_CELL), None)
            if long is not None:
                name = header[long] if long < len(header) else f"column {long + 1}"
                yield CsvRow(reader.line_num, [], f"field {name!r}: is {len(cells[long])} characters "
                                                  f"long; the limit is {MAX_CELL}")
                continue
            yield CsvRow(reader.line_num, cells)


@dataclass
class Progress:
    """How far an import got: rows read so far and the report until now."""

    rows: int
    report: subs.ImportReport
    error_count: int


def import_subscribers(
    uow: subs.UnitOfWorkFactory, path: Path, *, lst: MailingList, confirmed: bool, now: datetime,
    chunk_rows: int = 1000, on_chunk: Callable[[Progress], None] | None = None,
) -> Progress:
    """Import `email[,name,language]` rows into `lst`, one unit of work per `chunk_rows` rows.

    Raises InvalidDigestInput before writing anything when the file is not UTF-8 or its header
    names no `email` column. `on_chunk` is called after each commit; it may raise to stop the
    import there (what was committed stays). Only the first MAX_ERRORS_KEPT error lines are kept.
    """
    check_utf8(path)
    header: list[str] = []
    rows = read_rows(path, header)
    first = next(rows, None)
    if "email" not in header:
        raise InvalidDigestInput(f"{path}: line 1: header row must name an 'email' column, got {header}")
    col = {name: header.index(name) for name in COLUMNS if name in header}
    progress = Progress(0, subs.ImportReport(), 0)
    seen: set[str] = set()

    def fail(line: int, message: str) -> None:
        progress.error_count += 1
        if len(progress.report.errors) < MAX_ERRORS_KEPT:
            progress.report.errors.append(f"{path}: line {line}: {message}")

    def chained() -> Iterator[CsvRow]:
        if first is not None:
            yield first
        yield from rows

    all_rows = chained()
    while True:
        chunk = list(itertools.islice(all_rows, chunk_rows))
        progress.rows += len(chunk)
        valid: list[tuple[CsvRow, tuple[str, str, str]]] = []
        for row in chunk:
            if row.error is not None:
                fail(row.line, row.error)
            elif any(c.strip() for c in row.cells):
                reader = _parse_row(row, col, seen, fail)
                if reader is not None:
                    valid.append((row, reader))
        with uow() as work:
            added = subs.add_subscribers(work, [reader for _, reader in valid], lst=lst,
                                         confirmed=confirmed, now=now)
            work.commit()
        for (row, (address, _, _)), result in zip(valid, added, strict=True):
            _count(row, address, result, confirmed, progress)
        if on_chunk is not None:
            on_chunk(progress)
        if len(chunk) < chunk_rows:
            return progress


def _parse_row(
    row: CsvRow, col: dict[str, int], seen: set[str], fail: Callable[[int, str], None],
) -> tuple[str, str, str] | None:
    """(address, name, language) of a row, or None after reporting why it cannot be imported."""
    def cell(name: str) -> str:
        i = col.get(name)
        return row.cells[i].strip() if i is not None and i < len(row.cells) else ""

    try:
        address = normalize_email(cell("email"))
    except InvalidEmail as exc:
        fail(row.line, str(exc))
        return None
    if address.lower() in seen:
        fail(row.line, f"email {address!r} repeats an earlier line")
        return None
    raw_language = cell("language")
    language = parse_language(raw_language) if raw_language else "en"
    if language is None:
        fail(row.line, f"language {raw_language!r} is not a language tag such as en or ru-RU")
        return None
    seen.add(address.lower())
    return address, cell("name"), language


def _count(row: CsvRow, address: str, added: subs.Added, confirmed: bool, progress: Progress) -> None:
    """Fold one added reader into the report: new or known, owed a confirmation, a case note."""
    subscriber = added.subscriber
    if (not confirmed and subscriber.status not in SUPPRESSED
            and added.subscription == SubscriptionStatus.PENDING):
        progress.report.to_confirm.append(subscriber.id)
    if added.created:
        progress.report.imported += 1
    else:
        progress.report.existing += 1
        if subscriber.email != address and len(progress.report.notes) < MAX_ERRORS_KEPT:
            progress.report.notes.append(
                f"line {row.line}: {address!r} is the reader {subscriber.email!r} already "
                "(one reader per address, whatever its case)")
