"""`POST /api/mail/reports`: one bounce or complaint report, as the raw message (bearer token).

For a mailbox poller or an MTA pipe (`curl --data-binary @message.eml`); the same rules as
`syndicate mail report` (see syndicate.digests.bounces).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from syndicate.web.deps import AdminDep, ContainerDep

router = APIRouter(prefix="/api", dependencies=[AdminDep], tags=["admin"])

#: Reports carry the original message; a digest is under 102 KB, so 2 MB leaves ample room.
MAX_REPORT_BYTES = 2 * 1024 * 1024


@router.post("/mail/reports")
async def mail_report(request: Request, container: ContainerDep) -> JSONResponse:
    """Apply the reports in the posted message: {"results": [{outcome, email, ...}]}; 413 when too big."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REPORT_BYTES:
            return JSONResponse({"detail": f"the message is over {MAX_REPORT_BYTES} bytes"}, status_code=413)
    results = await run_in_threadpool(container.bounce_reports.apply_message, bytes(body))
    payload: list[dict[str, Any]] = [asdict(r) for r in results]
    return JSONResponse({"results": payload})
