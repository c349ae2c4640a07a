"""WeChat's image CDN as the mock keeps it, shared by GeWe and the wid API.

A received image is stored as WeChat stores it: an optional HD copy, a normal copy and a
thumbnail, all under one CDN file id, which the message XML names and the download calls
bring back.
"""

from __future__ import annotations

import hashlib
import secrets

from ...media import images
from ...runtime.state import MockState
from ...storage.records import ImageMessage, StoredImage, Variant, image_key
from ...storage.store import digest_of
from ..base import MessageOfImage
from .message_xml import ImageRef, image_xml

NORMAL_MAX_SIDE = 1080  # WeChat's "normal" copy is a recompressed picture of about this size
THUMB_MAX_SIDE = 120


def new_cdn_file_id() -> str:
    # Real ids are long hex strings starting 30... (ASN.1-like); only the shape matters here.
    return "3057020100044b30490201000204" + secrets.token_hex(52)


def new_aes_key() -> str:
    return secrets.token_hex(16)


def new_msg_ids() -> tuple[int, int]:
    """(msgId, newMsgId): about ten digits, and nineteen (past 2^53, as real ids are)."""
    return secrets.randbelow(9 * 10**8) + 10**9, secrets.randbelow(9 * 10**17) + 10**18


def variant_of(data: bytes) -> Variant:
    """What a record keeps of a copy's bytes; the bytes are saved with the record."""
    info = images.probe(data)
    return Variant(digest=digest_of(data), length=len(data), width=info.width,
                   height=info.height, content_type=info.mime_type,
                   md5=hashlib.md5(data).hexdigest())


def wechat_copies(data: bytes, *, hd: bool) -> dict[str, bytes]:
    """The copies WeChat keeps of a received picture: HD only when asked, always the others."""
    normal, thumb = images.downscale_and_thumbnail(data, NORMAL_MAX_SIDE, THUMB_MAX_SIDE)
    copies = {"normal": normal, "thumb": thumb}
    if hd:
        copies["hd"] = data
    return copies


def new_image(state: MockState, *, vendor: str, owner: str, copies: dict[str, bytes],
              origin: str) -> StoredImage:
    """The copies of one image under a new CDN file id and aeskey; the caller saves the
    record with the copies' bytes (and the message it belongs to, in one write)."""
    variants = {name: variant_of(data) for name, data in copies.items()}
    return StoredImage(vendor=vendor, image_id=new_cdn_file_id(), owner=owner,
                       variants=variants, aes_key=new_aes_key(), origin=origin,
                       created_at=state.clock.now())


def find_image(state: MockState, vendor: str, ref: ImageRef) -> StoredImage | None:
    """The image an XML names; the aeskey must match, as the real CDN needs it to decrypt."""
    image = state.store.load(StoredImage, image_key(vendor, ref.cdn_url))
    if image is None or (ref.aes_key and ref.aes_key != image.aes_key):
        return None
    return image


def receive_image(state: MockState, *, vendor: str, account: str, bot: str, sender: str,
                  chatroom: str | None, data: bytes, hd: bool) -> tuple[ImageMessage, StoredImage]:
    """A user sends the bot a picture: stored as WeChat keeps it, with the message's XML.

    In a group the message comes from the group, and its content starts ``<sender>:\n``.
    """
    copies = wechat_copies(data, hd=hd)
    image = new_image(state, vendor=vendor, owner=account, origin="received", copies=copies)
    variants = image.variants
    xml = image_xml(cdn_url=image.image_id, aes_key=image.aes_key, normal=variants["normal"],
                    thumb=variants["thumb"], hd=variants.get("hd"))
    msg_id, new_msg_id = new_msg_ids()
    message = ImageMessage(
        vendor=vendor, new_msg_id=new_msg_id, msg_id=msg_id, account=account,
        from_user=chatroom or sender, to_user=bot, image_id=image.image_id,
        xml=f"{sender}:\n{xml}" if chatroom else xml, create_time=int(state.clock.now()),
        direction="in", extra={"sender": sender, "clean_xml": xml})
    state.store.save_many((image, message), copies.values())
    return message, image


def message_of_image(state: MockState, image: StoredImage) -> MessageOfImage | None:
    """The first message ``image`` went or came in, for the dashboard, as WeChat names it."""
    found, _ = state.store.matching(ImageMessage, {"vendor": image.vendor,
                                                   "image_id": image.image_id}, limit=1)
    if not found:
        return None
    message = found[0]
    xml = message.extra.get("clean_xml") or message.xml or image_xml(  # (sent: as it goes out)
        cdn_url=image.image_id, aes_key=image.aes_key, normal=image.variants["normal"],
        thumb=image.variants["thumb"], hd=image.variants.get("hd"))
    return MessageOfImage(message.key, {
        "xml": xml, "fromUser": message.from_user,
        "toUser": message.to_user, "newMsgId": message.new_msg_id,
        "direction": message.direction, "createTime": message.create_time})
