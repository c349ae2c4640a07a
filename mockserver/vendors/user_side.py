"""What the admin routes that play a vendor's users share (specs/admin.yaml): their error
envelope, the image a test sends, and how a delivery is shown. Each vendor's package holds its
own such routes; the generic ones are in ``admin/``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response

from ..data_files import fixture_image
from ..errors import VendorError
from ..storage.records import Delivery
from .base import json_response

DEFAULT_FIXTURE = "landscape.jpg"


@dataclass
class AdminError(VendorError):
    """The admin routes' envelope: ``{"error": message}`` with an HTTP status."""

    status: int
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_response(self) -> Response:
        return json_response({"error": self.message}, self.status)


def image_of(body: Mapping[str, Any]) -> bytes:
    """The picture a request to play a user carries: base64 ``image``, or a kit ``fixture``."""
    if body.get("image"):
        try:
            return base64.b64decode(body["image"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AdminError(400, f"image is not valid base64: {exc}") from exc
    try:
        return fixture_image(body.get("fixture") or DEFAULT_FIXTURE)
    except KeyError as exc:
        raise AdminError(400, str(exc.args[0])) from exc


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {"id": delivery.delivery_id, "vendor": delivery.vendor, "url": delivery.url,
            "state": delivery.state, "message": delivery.message_key,
            "attempts": [dict(a) for a in delivery.attempts]}
