"""Subscriber CSV import over HTTP, as a background job the admin can poll (bearer token).

`POST /api/subscribers/import?list=SLUG` streams the body to a temporary file (bounded by
IMPORT_MAX_BYTES), starts the import in a child process (`web/jobs.py`, `web/import_job.py`) and
waits up to `wait` seconds: a small file is answered 200 with the report as before; a large one
gets 202 with the job id and a `Location: /api/jobs/{id}` to poll. The serving process only
copies bytes and relays progress, so `/healthz` answers at its idle speed throughout.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from syndicate.digests import subscribers as subs
from syndicate.errors import NotFound
from syndicate.web.deps import AdminDep, ContainerDep
from syndicate.web.import_job import ImportRequest, run_import
from syndicate.web.jobs import JobRegistry

router = APIRouter(prefix="/api", dependencies=[AdminDep], tags=["admin"])


def registry(request: Request) -> JobRegistry:
    """The app's job registry."""
    jobs: JobRegistry = request.app.state.jobs
    return jobs


async def _save_body(request: Request, limit: int, folder: Path | None) -> Path:
    fd, name = tempfile.mkstemp(prefix="import-", suffix=".csv", dir=folder)
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"the CSV body is over {limit} bytes (IMPORT_MAX_BYTES)")
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@router.post("/subscribers/import")
async def import_subscribers_route(
    request: Request, container: ContainerDep, list: str = Query(..., alias="list"),
    confirmed: bool = False,
    wait: float = Query(10.0, ge=0, le=60, description="seconds to wait for the result before 202"),
) -> JSONResponse:
    """Import a CSV body (`email[,name,language]`); bad rows are reported by line, the rest kept.

    200 with `{imported, existing, errors, …}` when done within `wait` seconds, else 202 with
    `{job, status_url}`; 404 for an unknown list, 413 over IMPORT_MAX_BYTES.
    """
    settings = container.settings

    def find_list() -> int:
        return subs.list_by_slug(container.digest_uow, list).id

    try:
        list_id = await run_in_threadpool(find_list)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    temp_dir = settings.var_dir / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    path = await _save_body(request, settings.import_max_bytes, temp_dir)
    job_request = ImportRequest(settings, path, list_id, confirmed)
    try:
        job = await run_in_threadpool(registry(request).start, "subscribers-import", run_import,
                                      job_request, lambda: path.unlink(missing_ok=True))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    deadline = time.monotonic() + wait
    while not job.finished.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if not job.finished.is_set():
        url = f"/api/jobs/{job.id}"
        return JSONResponse({"job": job.id, "state": job.state, "status_url": url},
                            status_code=202, headers={"Location": url})
    if job.result is None:
        status = 422 if job.state == "failed" else 503
        return JSONResponse({"detail": job.error, "job": job.id}, status_code=status)
    return JSONResponse(job.result | {"job": job.id})


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request) -> dict[str, Any]:
    """A background job: state (running, done, failed, cancelled), progress, and its result."""
    job = registry(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no job with id {job_id!r}")
    return job.as_json()

