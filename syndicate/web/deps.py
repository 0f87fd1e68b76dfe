"""Request-scoped dependencies: the container and the admin bearer check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from syndicate.bootstrap import Container

_bearer = HTTPBearer(auto_error=False)


def get_container(request: Request) -> Container:
    """The container the app was created with."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def require_admin(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless `Authorization: Bearer ADMIN_TOKEN` matches (constant-time comparison)."""
    expected = container.settings.resolved_admin_token.encode()
    given = credentials.credentials.encode() if credentials else b""
    if not credentials or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid 'Authorization: Bearer <ADMIN_TOKEN>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)
