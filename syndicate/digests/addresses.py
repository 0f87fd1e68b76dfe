"""Email address validation and normalization."""

from __future__ import annotations

import re

from syndicate.errors import InvalidEmail

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_email(raw: str) -> str:
    """The address trimmed, domain lower-cased and IDNA-encoded; raises InvalidEmail naming it.

    Local parts must be ASCII dot-atoms (quoted local parts and SMTPUTF8 are not accepted), so
    every stored address can go into a header and an SMTP envelope as it is.
    """
    value = raw.strip()
    if not value or len(value) > 254 or value.count("@") != 1:
        raise InvalidEmail(f"email {raw!r} is not an address of the form name@domain")
    local, domain = value.split("@")
    if len(local) > 64 or not _LOCAL.match(local):
        raise InvalidEmail(f"email {raw!r}: the part before '@' is not a valid ASCII local part")
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidEmail(f"email {raw!r}: domain {domain!r} is not a valid host name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise InvalidEmail(f"email {raw!r}: domain {domain!r} is not a valid host name")
    return f"{local}@{ascii_domain}"


def rate_limit_key(address: str) -> str:
    """The key rate limits count an address under: the whole address lower-cased.

    Mail systems treat local parts case-insensitively in practice, so `Target1@x` and
    `target1@x` reach one inbox and must share one limit.
    """
    return address.strip().lower()
