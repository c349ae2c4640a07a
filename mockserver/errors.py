"""Exceptions of the mock server.

    MockServerError
    ├── ConfigError          the configuration file or environment is not usable
    ├── StoreError           the state folder cannot be used (not a folder, read-only, ...)
    │   └── StoreUnavailable the store cannot be reached now (Redis down): try again later
    ├── SpecError            a spec cannot be loaded, or an operation has no handler
    ├── RequestProblem       a request does not match its operation in the spec
    └── VendorError          a handler refuses a request; rendered in the vendor's envelope

Handlers raise ``VendorError`` subclasses (one per vendor, defined next to the vendor's
envelope); the app turns them into responses, so no handler builds an error reply by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (light at import: the client-side tools import these errors too)
    from flask import Response


# A reply in the vendor's envelope that carries this header (valued with the exception's name)
# is a bug of the mock, not a refusal: tests and the contract kit tell the two apart by it.
INTERNAL_ERROR_HEADER = "X-Chatimg-Internal-Error"


class MockServerError(Exception):
    """Base of every error the mock server raises on purpose."""


class ConfigError(MockServerError):
    """The configuration cannot be used."""


class StoreError(MockServerError):
    """The state store cannot be opened or written."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now, but may be soon (Redis restarting, the network): a
    call answers 503 in its vendor's envelope, and the mock recovers by itself."""


class SpecError(MockServerError):
    """A spec file is missing or does not describe what the mock serves."""


@dataclass
class RequestProblem(MockServerError):
    """What is wrong with a request, in terms a vendor can put in its envelope.

    ``location`` is ``security``, ``header``, ``path``, ``query`` or ``body``; ``field`` names the
    parameter or body property when one is to blame; ``reason`` is ``missing``, ``invalid`` or
    ``too_large`` (a body over the size cap), which vendors word differently.
    """

    location: str
    field: str | None
    reason: str
    detail: str

    @property
    def missing(self) -> bool:
        return self.reason == "missing"

    def __str__(self) -> str:
        return self.detail


class VendorError(MockServerError):
    """A refusal that knows how to render itself in its vendor's envelope."""

    def to_response(self) -> Response:
        raise NotImplementedError
