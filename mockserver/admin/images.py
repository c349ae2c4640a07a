"""The images the mock holds, as the dashboard pages through them: summaries (listing reads
no image bytes), one image with its message and deliveries, and the bytes of each stored copy,
with a thumbnail for the grid."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from flask import Response

from ..media import images
from ..storage.records import Delivery, StoredImage, Variant, image_key
from ..storage.store import Store
from ..vendors.base import VendorApi
from ..vendors.user_side import AdminError, delivery_view

IMAGES_PATH = "/__admin/images"
THUMBNAIL = "thumbnail"  # the copy the grid shows: the vendor's own thumbnail, or one made here
OWN_THUMBNAIL = "thumb"  # the copy a vendor keeps as a thumbnail, where it keeps one
THUMBNAIL_MAX_SIDE = 240
LARGEST_FIRST = ("hd", "original", "normal")  # the copy ``url`` serves: the first there is
ORIGINS = ("sent", "received")  # the bot's images, and those its users sent it
# A copy's bytes never change under its name (ids are not reused): a browser may keep them.
COPY_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


def image_path(image: StoredImage) -> str:
    """The admin route of ``image``, relative to the mock; its copies' are below it."""
    return f"{IMAGES_PATH}/{_segment(image.vendor)}/{_segment(image.image_id)}"


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote() leaves as it is


def _segment(text: str) -> str:
    """``text`` quoted as one segment of a path (ids are mostly plain: quote() is slow)."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def largest_copy(image: StoredImage) -> str | None:
    """The name of the copy that shows the image best: HD, the original, or the normal one;
    else the one of most pixels."""
    for name in LARGEST_FIRST:
        if name in image.variants:
            return name
    return max(image.variants, key=lambda n: image.variants[n].width * image.variants[n].height,
               default=None)


def summary(image: StoredImage) -> dict[str, Any]:
    """What the listing says of an image: its record less the bytes, and where they are."""
    largest, path = largest_copy(image), image_path(image)
    return {
        "vendor": image.vendor, "imageId": image.image_id, "owner": image.owner,
        "origin": image.origin, "imageType": image.image_type, "deleted": image.deleted,
        "variants": {name: {"length": v.length, "width": v.width, "height": v.height,
                            "md5": v.md5, "contentType": v.content_type}
                     for name, v in image.variants.items()},
        "createdAt": image.created_at, "thumbnailUrl": f"{path}/{THUMBNAIL}",
        "url": f"{path}/{_segment(largest)}" if largest else None,
    }


def listing(store: Store, query: Mapping[str, Any]) -> dict[str, Any]:
    """The images of ``GET /__admin/images``: those of the ``vendor``, ``account`` (owner) and
    ``origin`` asked, in store order; or, paged by ``limit`` and ``offset``, newest first."""
    where = {field: query[name] for name, field in
             (("vendor", "vendor"), ("account", "owner"), ("origin", "origin")) if name in query}
    paged = "limit" in query or "offset" in query
    chosen, total = store.matching(StoredImage, where,
                                   newest_by="created_at" if paged else None,
                                   offset=query.get("offset", 0), limit=query.get("limit"))
    return {"images": [summary(image) for image in chosen], "total": total}


def by_account(store: Store, accounts: Mapping[str, Sequence[str]],
               limit: int) -> dict[str, Any]:
    """The newest ``limit`` images of each account in each direction, in one read (the
    dashboard's first view): first the accounts configured, per vendor (an account with none
    yet too), then any other owner of stored images."""
    found = store.first_pages(StoredImage, ("vendor", "owner", "origin"),
                              newest_by="created_at", limit=limit)
    configured = [(vendor, account, origin) for vendor, names in accounts.items()
                  for account in names for origin in ORIGINS]
    vendor_order = {vendor: n for n, vendor in enumerate(accounts)}
    others = sorted(found.keys() - set(configured), key=lambda group: (
        vendor_order.get(group[0], len(vendor_order)), group[0], group[1],
        ORIGINS.index(group[2]) if group[2] in ORIGINS else len(ORIGINS), group[2]))
    groups = []
    for vendor, account, origin in configured + others:
        chosen, total = found.get((vendor, account, origin), ([], 0))
        groups.append({"vendor": vendor, "account": account, "origin": origin,
                       "images": [summary(image) for image in chosen], "total": total})
    return {"limit": limit, "groups": groups}


def find_image(store: Store, vendor: str, image_id: str) -> StoredImage:
    """The image, or AdminError 404."""
    image = store.load(StoredImage, image_key(vendor, image_id))
    if image is None or image.vendor != vendor:
        raise AdminError(404, f"no {vendor} image {image_id}")
    return image


def detail(store: Store, image: StoredImage, api: VendorApi | None) -> dict[str, Any]:
    """The summary, with the message the image came or went in (as its vendor tells it) and
    the deliveries of that message to bots, oldest first."""
    message = api.image_message(image) if api is not None else None
    deliveries = [] if message is None else sorted(
        (d for d in store.records(Delivery) if d.message_key == message.key),
        key=lambda d: d.created_at)
    return {**summary(image), "message": message.fields if message else None,
            "deliveries": [delivery_view(d) for d in deliveries]}


class Thumbnails:
    """JPEG thumbnails made for the grid, of images their vendor keeps none of, by the digest
    of the copy they are drawn from (the same bytes, the same thumbnail): the latest ``size``
    of them are kept in this process, so paging back and forth decodes nothing again."""

    def __init__(self, size: int = 512):
        self._size = size
        self._made: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, store: Store, source: Variant) -> bytes | None:
        with self._lock:
            made = self._made.get(source.digest)
            if made is not None:
                self._made.move_to_end(source.digest)
                return made
        data = store.get_blob(source.digest)
        if data is None:
            return None
        made = images.thumbnail(data, THUMBNAIL_MAX_SIDE)  # (outside the lock: it decodes)
        with self._lock:
            self._made[source.digest] = made
            while len(self._made) > self._size:
                self._made.popitem(last=False)
        return made


def copy_response(store: Store, image: StoredImage, name: str,
                  thumbnails: Thumbnails) -> Response:
    """The bytes of the copy ``name`` with its content type, or AdminError 404. The copy
    ``thumbnail`` is the vendor's own where it keeps one, else a JPEG made from the smallest
    copy big enough."""
    if name == THUMBNAIL and OWN_THUMBNAIL not in image.variants:
        source = _thumbnail_source(image)
        try:
            data = thumbnails.of(store, source) if source else None
        except images.NotAnImage as exc:
            raise AdminError(404, f"no thumbnail can be made of image {image.image_id}: "
                                  f"{exc}") from exc
        content_type = "image/jpeg"
    else:
        variant = image.variants.get(OWN_THUMBNAIL if name == THUMBNAIL else name)
        if variant is None:
            raise AdminError(404, f"image {image.image_id} has no copy {name!r}; it has "
                                  f"{', '.join([*image.variants, THUMBNAIL])}")
        data, content_type = store.get_blob(variant.digest), variant.content_type
    if data is None:
        raise AdminError(404, f"the bytes of image {image.image_id} are gone")
    return Response(data, 200, headers=COPY_HEADERS, content_type=content_type)


def _thumbnail_source(image: StoredImage) -> Variant | None:
    """The smallest copy at least as big as a thumbnail, else the biggest: least to decode."""
    by_size = sorted(image.variants.values(), key=lambda v: v.width * v.height)
    return next((v for v in by_size if max(v.width, v.height) >= THUMBNAIL_MAX_SIDE),
                by_size[-1] if by_size else None)
