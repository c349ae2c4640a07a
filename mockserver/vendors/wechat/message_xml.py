"""WeChat's image message XML, as GeWe and the wid API pass it around.

Both vendors hand bots the same ``<msg><img .../></msg>`` document (the callback's content) and
take it back to download the image. Parsing goes through defusedxml; unknown elements and
attributes, which newer WeChat clients add, are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ...storage.records import Variant

# WeChat puts the CDN file id in each of these; they name the same file in the docs' examples.
CDN_URL_ATTRIBUTES = ("cdnmidimgurl", "cdnbigimgurl", "cdnthumburl")


class ImageXmlError(ValueError):
    """The text is not an image message XML."""


@dataclass(frozen=True)
class ImageRef:
    """What an image XML says about the image it names."""

    cdn_url: str
    aes_key: str
    attributes: Mapping[str, str]


def strip_sender_prefix(content: str) -> str:
    """Group messages arrive as ``<sender wxid>:\\n<?xml ...``; clients cut the prefix off."""
    start = content.find("<")
    return content[start:] if start > 0 else content


def parse_image_xml(content: str, *, allow_sender_prefix: bool = True) -> ImageRef:
    """Read the ``<img>`` element of a message XML, with or without the group prefix.

    Remembered (up to a bounded number of message-sized texts): a bot downloads the same XML
    again and again (each copy, each retry), and parsing is a fifth of a download's CPU."""
    if len(content) > _REMEMBERED_XML_CHARS:
        return _parse_image_xml(content, allow_sender_prefix)
    return _remembered_image_xml(content, allow_sender_prefix)


_REMEMBERED_XML_CHARS = 8192


def _parse_image_xml(content: str, allow_sender_prefix: bool) -> ImageRef:
    if not allow_sender_prefix and not content.lstrip().startswith("<"):
        raise ImageXmlError("the XML starts with a group sender prefix")
    text = strip_sender_prefix(content).strip()
    try:
        root: Element = SafeET.fromstring(text.encode("utf-8"))
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ImageXmlError(f"not well-formed XML: {exc}") from exc
    img = root if root.tag == "img" else root.find("img")
    if img is None:
        raise ImageXmlError("the XML has no <img> element")
    attributes = MappingProxyType(dict(img.attrib))
    cdn_url = next((attributes[a] for a in CDN_URL_ATTRIBUTES if attributes.get(a)), "")
    if not cdn_url:
        raise ImageXmlError("the <img> element names no CDN file (cdnmidimgurl)")
    return ImageRef(cdn_url=cdn_url, aes_key=attributes.get("aeskey", ""), attributes=attributes)


_remembered_image_xml = lru_cache(maxsize=1024)(_parse_image_xml)


def image_xml(*, cdn_url: str, aes_key: str, normal: Variant, thumb: Variant,
              hd: Variant | None = None) -> str:
    """The XML WeChat delivers for a received image, shaped like the vendors' examples."""
    attributes = [
        ("aeskey", aes_key), ("encryver", "1"), ("cdnthumbaeskey", aes_key),
        ("cdnthumburl", cdn_url), ("cdnthumblength", thumb.length),
        ("cdnthumbheight", thumb.height), ("cdnthumbwidth", thumb.width),
        ("cdnmidheight", 0), ("cdnmidwidth", 0), ("cdnhdheight", 0), ("cdnhdwidth", 0),
        ("cdnmidimgurl", cdn_url), ("length", normal.length),
    ]
    if hd is not None:
        attributes += [("cdnbigimgurl", cdn_url), ("hdlength", hd.length)]
    attributes.append(("md5", normal.md5))
    rendered = " ".join(f'{name}="{value}"' for name, value in attributes)
    return (f'<?xml version="1.0"?>\n<msg>\n\t<img {rendered} />\n'
            "\t<platform_signature></platform_signature>\n\t<imgdatahash></imgdatahash>\n</msg>\n")
