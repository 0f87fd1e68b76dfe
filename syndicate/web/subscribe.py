"""Subscribing and leaving: double opt-in, one-click unsubscribe (RFC 8058), preferences."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from syndicate import i18n
from syndicate.digests import subscribers as subs
from syndicate.digests.states import FREQUENCIES
from syndicate.digests.subscribers import Preferences
from syndicate.digests.tokens import MANAGE
from syndicate.errors import InvalidDigestInput, InvalidEmail, InvalidToken, NotFound, RateLimited
from syndicate.ingest.limits import json_depth_exceeds
from syndicate.web.deps import ContainerDep
from syndicate.web.openapi import SUBSCRIBE_BODY
from syndicate.web.security import client_address
from syndicate.web.templating import i18n_context, request_language

router = APIRouter()
MAX_SUBSCRIBE_BODY = 16 * 1024
MAX_LISTS = 50


def _page(
    request: Request, container: Any, name: str, status: int = 200, *, lang: str, **context: Any
) -> HTMLResponse:
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, f"subscribe/{name}",
        {"base_url": container.settings.base_url, **i18n_context(lang), **context}, status_code=status)
    return response


async def _subscribe_input(request: Request) -> tuple[str, list[str], str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        raw = await request.body()
        if len(raw) > MAX_SUBSCRIBE_BODY:
            raise InvalidDigestInput(f"body is {len(raw)} bytes; the limit is {MAX_SUBSCRIBE_BODY}")
        if json_depth_exceeds(raw, 4):
            raise InvalidDigestInput("body nests deeper than 4 levels; expected {email, lists, language?}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidDigestInput("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidDigestInput("body must be a JSON object {email, lists, language?}")
        lists = data.get("lists") or []
        if isinstance(lists, str):
            lists = [lists]
        if not isinstance(lists, list) or not all(isinstance(x, str) for x in lists):
            raise InvalidDigestInput("field 'lists' must be a list of list slugs")
        if len(lists) > MAX_LISTS:
            raise InvalidDigestInput(f"field 'lists' has {len(lists)} entries; the limit is {MAX_LISTS}")
        return str(data.get("email") or ""), lists, str(data.get("language") or "en")
    form = await request.form()
    lists = [str(v) for v in form.getlist("lists")]
    if len(lists) > MAX_LISTS:
        raise InvalidDigestInput(f"field 'lists' has {len(lists)} entries; the limit is {MAX_LISTS}")
    return str(form.get("email") or ""), lists, str(form.get("language") or "en")


def _form_page(
    request: Request, container: Any, *, status: int = 200, email: str = "", chosen: Sequence[str] = (),
    language: str | None = None, errors: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-up form: public lists, the address, the language, and errors next to their field."""
    offers = subs.public_lists(container.digest_uow)
    if not chosen and len(offers) == 1:
        chosen = [offers[0].slug]
    lang = request_language(request)
    return _page(request, container, "form.html", status, lang=lang, lists=offers, email=email,
                 chosen=set(chosen), language=i18n.pick(language) if language else lang, errors=errors or {},
                 languages={code: i18n.language_name(code) for code in i18n.available()},
                 language_name=i18n.language_name)


def _form_error(lang: str, exc: Exception, lists: Sequence[str], email: str) -> tuple[str, str]:
    """The field a refused sign-up names, and what to tell the reader there, in their language."""
    _ = i18n.translations(lang).gettext
    if isinstance(exc, InvalidEmail):
        return "email", _("“%(email)s” is not an email address.") % {"email": email}
    if isinstance(exc, RateLimited):
        return "form", _("Too many requests; try again within the hour.")
    if not lists:
        return "lists", _("Choose at least one newsletter.")
    return "lists", _("One of the chosen newsletters does not exist.")


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(
    request: Request, container: ContainerDep, email: str = Query("", max_length=320),
) -> HTMLResponse:
    """The public sign-up page: every public list, an address field, double opt-in."""
    return _form_page(request, container, email=email)


@router.post("/subscribe", openapi_extra={"requestBody": SUBSCRIBE_BODY})
async def subscribe(request: Request, container: ContainerDep, background: BackgroundTasks) -> Response:
    """202 for every valid request, whether or not the address was known; mails a confirm link."""
    wants_json = not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data"))
    email, language, lists = "", "en", list[str]()
    try:
        email, lists, language = await _subscribe_input(request)
        client = client_address(request, container.settings)
        optin = container.optin
        # The rate counter (Redis) and the database block: run them off the event loop.
        pending = await run_in_threadpool(
            functools.partial(optin.request_subscription, email=email, list_slugs=lists,
                              language=language, client=client))
    except (InvalidEmail, InvalidDigestInput, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 422
        headers = {"Retry-After": "3600"} if status == 429 else {}
        if not wants_json:
            field, message = _form_error(request_language(request), exc, lists, email)
            page = _form_page(request, container, status=status, email=email, chosen=lists,
                              language=language, errors={field: message})
            page.headers.update(headers)
            return page
        body = {"detail": str(exc)}
        if status == 422:
            body["field"] = "email" if isinstance(exc, InvalidEmail) else "lists"
        return JSONResponse(body, status_code=status, headers=headers)
    if pending is not None:
        background.add_task(optin.send_confirmation, pending)
    message = "If the address can receive mail, a confirmation link is on its way."
    if wants_json:
        return JSONResponse({"status": "accepted", "detail": message}, status_code=202)
    lang = request_language(request)
    _ = i18n.translations(lang).gettext
    return _page(request, container, "message.html", 202, lang=lang, title=_("Check your inbox"),
                 message=_("If the address can receive mail, a confirmation link is on its way."))


def _bad_link(request: Request, container: Any, exc: Exception) -> HTMLResponse:
    """The page for a forged, expired or stale emailed link (400, saying why, in the browser's language)."""
    lang = request_language(request)
    _ = i18n.translations(lang).gettext
    if isinstance(exc, NotFound):
        why = _("This subscription no longer exists.")
    elif "expired" in str(exc):
        why = _("The link has expired; subscribe again for a new one.")
    else:
        why = _("The link is incomplete or was altered; copy the whole link from the email.")
    return _page(request, container, "message.html", 400, lang=lang, title=_("This link does not work"),
                 message=why, link=f"{container.settings.base_url}/subscribe", link_text=_("Subscribe"))


def _reader_language(container: Any, token: str) -> str:
    """The language of the subscriber a manage link names (English if it is gone)."""
    try:
        return str(container.optin.preferences(token).language)
    except (InvalidToken, NotFound):
        return i18n.DEFAULT


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """Activate a subscription from the emailed link."""
    try:
        manage = container.optin.confirm(token)
    except (InvalidToken, NotFound) as exc:
        return _bad_link(request, container, exc)
    lang = _reader_language(container, manage)
    _ = i18n.translations(lang).gettext
    return _page(request, container, "message.html", lang=lang, title=_("Subscription confirmed"),
                 message=_("Thank you: your subscription is active."),
                 link=f"{container.settings.base_url}/preferences/{manage}", link_text=_("Manage it"))


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """A page with a button; a GET never unsubscribes (mail scanners follow links)."""
    try:
        container.optin.read_token(token, MANAGE)
    except InvalidToken as exc:
        return _bad_link(request, container, exc)
    return _page(request, container, "unsubscribe.html", lang=_reader_language(container, token), token=token)


def _unsubscribed(request: Request, container: Any, token: str, names: Sequence[str] | None) -> HTMLResponse:
    lang = _reader_language(container, token)
    _ = i18n.translations(lang).gettext
    if names:
        message = _("You will receive no more mail from %(names)s.") % {"names": ", ".join(names)}
    else:
        message = _("You will receive no more mail from any of our newsletters.")
    return _page(request, container, "message.html", lang=lang, title=_("You are unsubscribed"),
                 message=message, link=f"{container.settings.base_url}/preferences/{token}",
                 link_text=_("Change your mind"))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """RFC 8058 one-click (and the page's button): unsubscribes at once, 200, no redirect."""
    try:
        names = container.optin.unsubscribe(token)
    except (InvalidToken, NotFound) as exc:
        return _bad_link(request, container, exc)
    return _unsubscribed(request, container, token, names)


def _preferences_context(found: Preferences) -> dict[str, Any]:
    return {"email": found.email, "language": found.language, "lists": found.lists, "lang": found.language,
            "languages": {code: i18n.language_name(code) for code in i18n.available()},
            "frequencies": FREQUENCIES}


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """Lists, frequency (where a list allows) and language of the link's subscriber, in its language."""
    try:
        context = _preferences_context(container.optin.preferences(token))
    except (InvalidToken, NotFound) as exc:
        return _bad_link(request, container, exc)
    return _page(request, container, "preferences.html", token=token, **context)


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences_save(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """Save the preferences form and show it again (in the language just chosen)."""
    form = await request.form()
    try:
        optin = container.optin
        optin.read_token(token, MANAGE)
        choices: dict[int, str | None] = {}
        for raw in form.getlist("lists"):
            list_id = int(str(raw))
            choices[list_id] = str(form.get(f"frequency-{list_id}") or "") or None
        optin.save_preferences(token, language=str(form.get("language") or "en"), choices=choices)
        context = _preferences_context(optin.preferences(token))
    except (InvalidToken, NotFound) as exc:
        return _bad_link(request, container, exc)
    except (InvalidDigestInput, ValueError) as exc:
        lang = _reader_language(container, token)
        _ = i18n.translations(lang).gettext
        return _page(request, container, "message.html", 422, lang=lang, title=_("Not saved"),
                     message=str(exc), link=f"{container.settings.base_url}/preferences/{token}",
                     link_text=_("Back"))
    return _page(request, container, "preferences.html", token=token, saved=True, **context)


@router.post("/preferences/{token}/unsubscribe-all", response_class=HTMLResponse)
def unsubscribe_everything(request: Request, token: str, container: ContainerDep) -> HTMLResponse:
    """The preferences page's "unsubscribe from everything": leaves every list at once."""
    try:
        container.optin.unsubscribe_all(token)
    except (InvalidToken, NotFound) as exc:
        return _bad_link(request, container, exc)
    return _unsubscribed(request, container, token, None)
