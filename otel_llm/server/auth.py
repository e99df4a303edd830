"""API-key check shared by HTTP and gRPC: `x-api-key: KEY` or `Authorization: Bearer KEY`."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from otel_llm.server.status import Failure, RequestError


class ApiKeyCheck:
    """Accepts a request when it carries the configured key (compared in constant time).

    Args:
        api_key: the key; None lets every request through.
    """

    def __init__(self, api_key: str | None) -> None:
        self._key = api_key.encode() if api_key else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def allows(self, header: Callable[[str], str | None]) -> bool:
        """Whether the request is allowed.

        Args:
            header: looks a request header (or gRPC metadata key) up by lower-case name.
        """
        if self._key is None:
            return True
        candidates = [header("x-api-key")]
        authorization = header("authorization")
        if authorization:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                candidates.append(token.strip())
        # Compare every candidate, always: the time taken says nothing about the key.
        matches = [hmac.compare_digest((c or "").encode(), self._key) for c in candidates]
        return any(matches)

    def check(self, header: Callable[[str], str | None]) -> None:
        """Raise UNAUTHENTICATED unless `allows(header)`.

        Raises:
            RequestError: UNAUTHENTICATED, saying which headers carry the key.
        """
        if not self.allows(header):
            raise RequestError(
                Failure.UNAUTHENTICATED,
                "missing or wrong API key: send it as 'x-api-key: KEY' or "
                "'Authorization: Bearer KEY'",
            )


def lookup(pairs: Mapping[str, str]) -> Callable[[str], str | None]:
    """A header lookup over a mapping with lower-case keys."""
    return pairs.get
