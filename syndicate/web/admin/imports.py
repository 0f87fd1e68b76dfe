"""Subscriber CSV import from the browser: upload, then a page that follows the import job and
shows its per-row report, and a button mailing confirmation links to a list's pending readers.

The work is the API's import job (web/imports_api.py), started the same way: this module only
stores the upload and reads the job back. While the job runs its page reloads itself every
second (a meta refresh: no script needed).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicate.digests import subscribers as subs
from syndicate.digests.optin import PendingConfirmation
from syndicate.errors import NotFound
from syndicate.web.admin.confirm import ask, is_confirmed
from syndicate.web.admin.session import CsrfDep, SessionDep
from syndicate.web.admin.views import render
from syndicate.web.deps import ContainerDep
from syndicate.web.import_job import ImportRequest, run_import
from syndicate.web.imports_api import registry

router = APIRouter(prefix="/admin/subscribers/import", include_in_schema=False)
COPY_CHUNK = 1024 * 1024


def _form(
    request: Request, container: ContainerDep, *, error: str = "", flash: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lists = subs.all_lists(container.digest_uow)
    return render(request, "admin/import.html", {"lists": lists, "error": error, "flash": flash},
                  status_code=status_code)


@router.get("", response_class=HTMLResponse)
def import_form(request: Request, container: ContainerDep, _: SessionDep) -> HTMLResponse:
    """The upload form: a CSV file with a header row `email[,name,language]`, and the list."""
    return _form(request, container)


def _store_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Copy the upload into a new file in `folder`; HTTPException 413 (nothing kept) over `limit`."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="import-", suffix=".csv", dir=folder)
    path = Path(name)
    try:
        with open(fd, "wb") as out:
            shutil.copyfileobj(upload.file, out, COPY_CHUNK)
        if path.stat().st_size > limit:
            raise HTTPException(413, f"the CSV file is over {limit} bytes (IMPORT_MAX_BYTES)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@router.post("", response_class=HTMLResponse)
async def start_import(
    request: Request, container: ContainerDep, _: CsrfDep, file: UploadFile,
    list_slug: Annotated[str, Form(alias="list", max_length=63)],
    confirmed: Annotated[bool, Form()] = False,
) -> Response:
    """Start the import job on the uploaded file, then follow it on its own page."""
    try:
        lst = await run_in_threadpool(subs.list_by_slug, container.digest_uow, list_slug)
    except NotFound as exc:
        return _form(request, container, error=str(exc), status_code=422)
    settings = container.settings
    path = await run_in_threadpool(_store_upload, file, settings.var_dir / "tmp", settings.import_max_bytes)
    try:
        job = await run_in_threadpool(registry(request).start, "subscribers-import", run_import,
                                      ImportRequest(settings, path, lst.id, confirmed),
                                      lambda: path.unlink(missing_ok=True))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return RedirectResponse(f"/admin/subscribers/import/{job.id}?list={lst.slug}", status_code=303)


@router.get("/{job_id}", response_class=HTMLResponse)
def import_report(
    request: Request, job_id: str, container: ContainerDep, _: SessionDep,
    list_slug: str = Query("", alias="list", max_length=63),
) -> HTMLResponse:
    """The job's progress while it runs (the page reloads itself), then its per-row report and how
    many readers of the list still wait for a confirmation link."""
    job = registry(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no import job {job_id!r} (jobs are forgotten when the server restarts)")
    # The job's watcher changes it while this page renders: show one consistent moment of it.
    seen = job.as_json()
    pending = 0
    if list_slug and seen["state"] != "running":
        try:
            pending = len(subs.awaiting_confirmation(container.digest_uow, list_slug)[1])
        except NotFound:
            list_slug = ""
    return render(request, "admin/import_report.html",
                  {"job": seen, "list_slug": list_slug, "pending": pending})


@router.post("/confirmations", response_class=HTMLResponse)
def mail_confirmations(
    request: Request, container: ContainerDep, _: CsrfDep, background: BackgroundTasks,
    list_slug: Annotated[str, Form(alias="list", max_length=63)], confirm: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """After confirmation, mail a confirmation link to every pending reader of the list (double
    opt-in for imported addresses), at the configured send rate, after the response."""
    try:
        lst, waiting = subs.awaiting_confirmation(container.digest_uow, list_slug)
    except NotFound as exc:
        return _form(request, container, error=str(exc), status_code=422)
    links = f"{len(waiting)} confirmation link{'' if len(waiting) == 1 else 's'}"
    if not is_confirmed(confirm):
        return ask(request, title=f"Mail {links}?",
                   message=(f"Each pending reader of {lst.name} gets a mail asking to confirm; only those "
                            "who click it receive editions."),
                   button="Yes, mail them", back="/admin/subscribers/import", fields={"list": lst.slug},
                   danger=False)
    pendings = [PendingConfirmation(subscriber_id, (lst.id,)) for subscriber_id in waiting]
    background.add_task(container.optin.send_confirmations, pendings, lambda *_: None)
    return _form(request, container, flash=f"Mailing {links} to readers of {lst.name}.")
