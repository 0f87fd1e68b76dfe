"""The subscriber CSV import as a background job: what runs in the job's child process.

Kept apart from `imports_api` so the child imports neither FastAPI nor the routes: it builds its
own container from the server's Settings (a new engine; nothing is shared with the server but
the database), imports the uploaded file in chunks and reports progress after each commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syndicate.errors import InvalidDigestInput
from syndicate.settings import Settings
from syndicate.web.jobs import JobControl

#: The name errors give the uploaded file instead of the server's temporary path.
UPLOAD_NAME = "upload.csv"


@dataclass(frozen=True)
class ImportRequest:
    """What the child needs: the server's settings, the saved upload and the target list."""

    settings: Settings
    path: Path
    list_id: int
    confirmed: bool


def run_import(control: JobControl, request: ImportRequest) -> dict[str, Any]:
    """Import `request.path` into the list; the per-row report as the API returns it.

    Raises InvalidDigestInput (naming the upload, never the temporary file) when the file as a
    whole cannot be read, before anything is written; JobCancelled from a progress report when
    the server is gone (the chunks committed so far stay).
    """
    from syndicate.bootstrap import bootstrap
    from syndicate.digests import subscribers as subs
    from syndicate.ingest.subscribers_csv import Progress, import_subscribers
    from syndicate.logs import configure_logging

    settings, path = request.settings, request.path
    configure_logging(settings.log_format)
    container = bootstrap(settings, eager=False)
    try:
        lst = subs.list_by_id(container.digest_uow, request.list_id)

        def on_chunk(progress: Progress) -> None:
            control.progress({"rows": progress.rows, "imported": progress.report.imported,
                              "existing": progress.report.existing,
                              "error_count": progress.error_count})

        done = import_subscribers(container.digest_uow, path, lst=lst, confirmed=request.confirmed,
                                  now=container.now(), chunk_rows=settings.import_chunk_rows,
                                  on_chunk=on_chunk)
    except InvalidDigestInput as exc:
        raise InvalidDigestInput(str(exc).replace(str(path), UPLOAD_NAME)) from None
    finally:
        container.close()
    report = done.report
    return {"imported": report.imported, "existing": report.existing, "rows": done.rows,
            "error_count": done.error_count,
            "errors": [e.replace(str(path), UPLOAD_NAME) for e in report.errors],
            "notes": list(report.notes)}
