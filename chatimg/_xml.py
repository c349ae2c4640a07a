"""WeChat image message XML, as far as a client has to write or clean it."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr


def forward_xml(*, aes_key: str, cdn_mid_img_url: str, length: int, md5: str) -> str:
    """The ``<msg><img/></msg>`` that forwardImage takes, from postImage's CDN info.

    GeWe's postImage note: reassemble ``aesKey``, ``fileId`` (as ``cdnmidimgurl``), ``length``
    and ``md5`` into XML to send the same image again without uploading it.
    """
    attributes = {"aeskey": aes_key, "cdnmidimgurl": cdn_mid_img_url, "length": str(length),
                  "md5": md5}
    rendered = " ".join(f"{name}={quoteattr(value)}" for name, value in attributes.items())
    return f'<?xml version="1.0"?>\n<msg>\n\t<img {rendered} />\n</msg>\n'


def without_sender_prefix(content: str) -> str:
    """Cut the ``<sender wxid>:\\n`` that group messages put before the XML.

    Clients cut it before downloadImage (vendor notes 1.4: chatgpt-on-wechat; dify-on-wechat
    PR #168, group images failed to download with it).
    """
    start = content.find("<")
    if start > 0 and content[:start].rstrip().endswith(":"):
        return content[start:]
    return content
