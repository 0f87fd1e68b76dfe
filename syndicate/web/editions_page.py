"""An edition's web page ("view in browser"), opened by the signed link in its mail."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from syndicate.digests.tokens import Signer
from syndicate.errors import InvalidToken
from syndicate.i18n import pick
from syndicate.mail.render import Masthead, render_edition
from syndicate.services.media import with_available_images
from syndicate.web.deps import ContainerDep
from syndicate.web.security import DbId

router = APIRouter(include_in_schema=False)
# The page is the email itself: no size budget applies, every article is shown.
WEB_MAX_BYTES = 10_000_000
# The mail's HTML runs no script and loads nothing but images, as in a mail client.
PAGE_CSP = ("default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'")


@router.get("/editions/{edition_id}")
def edition_page(
    edition_id: DbId, container: ContainerDep, sig: str = Query("", max_length=64),
    lang: str = Query("en", max_length=35),
) -> Response:
    """The edition as its mail shows it, with no per-reader links; 404 unless `sig` is the mail's."""
    settings = container.settings
    try:
        Signer(settings.resolved_secret_key).check_edition(edition_id, sig)
    except InvalidToken:
        # Same answer as for a missing edition: ids are not to be walked.
        raise HTTPException(404, f"no edition {edition_id} at this link") from None
    reads = container.digest_reads
    found = reads.edition(edition_id)
    articles = with_available_images(reads.edition_articles(found), settings)
    rendered = render_edition(
        list_name=found.list_name, frequency=found.frequency, articles=articles,
        language=pick(lang), base_url=settings.base_url,
        max_html_bytes=WEB_MAX_BYTES, masthead=Masthead(settings.site_title, settings.site_logo_url),
        web_view=True,
    )
    return Response(rendered.html, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"})
