"""A GeWe bot that sends every image it receives back to the chat it came from.

GeWe POSTs each message of the account to the registered callback URL (``AddMsg``). For an
image the bot downloads the best copy there is (HD, else the normal one), fetches its bytes,
and posts the same link back to the chat: a friend's wxid, or the group. It answers every
callback quickly and de-duplicates on ``NewMsgId``, as GeWe may send one twice.

    chatimg-mock serve &
    python examples/gewe_echo_bot.py --port 8080 \\
        --register http://127.0.0.1:8080/gewe/callback
    curl -s http://127.0.0.1:4010/__admin/gewe/messages -H 'Content-Type: application/json' \\
        -d '{"fromUser": "wxid_friend01", "hd": false}'
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from flask import Flask, request

from chatimg import ChatImageError, GeweClient, ImageType, ProtocolError, SentImage
from chatimg.inbound import parse_gewe_callback

CALLBACK_PATH = "/gewe/callback"
log = logging.getLogger("gewe_echo_bot")


@dataclass
class Echoes:
    """What the bot has done: ``bot.extensions["echoes"]``."""

    received: list[str] = field(default_factory=list)  # md5 of each image downloaded
    replies: list[SentImage] = field(default_factory=list)
    _handled: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, new_msg_id: int) -> bool:
        """True the first time a message is seen; a duplicate (or one in progress) is not."""
        with self._lock:
            if new_msg_id in self._handled:
                return False
            self._handled.add(new_msg_id)
            return True

    def release(self, new_msg_id: int) -> None:
        """Forget a message that failed, so GeWe's next attempt is handled again."""
        with self._lock:
            self._handled.discard(new_msg_id)


def create_bot(api_base_url: str, token: str, app_id: str, *,
               file_base_url: str | None = None) -> Flask:
    """The bot for one GeWe device. Self-hosted GeWe answers relative ``fileUrl``s served by
    its file server (port 2532): pass that server's URL as ``file_base_url``."""
    gewe = GeweClient(api_base_url, token, app_id)
    files = httpx.Client(timeout=30)
    echoes = Echoes()
    bot = Flask(__name__)
    bot.extensions["echoes"] = echoes

    @bot.post(CALLBACK_PATH)
    def callback() -> tuple[dict[str, str], int]:
        try:
            message = parse_gewe_callback(request.get_json(force=True))
        except ProtocolError as error:
            return {"error": str(error)}, 400
        if message is None:
            return {"ignored": "not an image"}, 200
        if message.sender == message.bot_wxid:
            return {"ignored": "the bot's own message"}, 200  # or it would echo itself forever
        if not echoes.claim(message.new_msg_id):
            return {"ignored": f"duplicate {message.new_msg_id}"}, 200
        try:
            image = gewe.download_image(message.xml, ImageType.HD, fallback=True)
            file_url = urljoin(file_base_url, image.file_url) if file_base_url else image.file_url
            content = files.get(file_url).raise_for_status().content
            sent = gewe.post_image(message.from_user, file_url)
        except (ChatImageError, httpx.HTTPError) as error:
            echoes.release(message.new_msg_id)
            log.warning("could not echo %s: %s", message.new_msg_id, error)
            return {"error": str(error)}, 500  # not taken: GeWe tries again
        echoes.received.append(hashlib.md5(content).hexdigest())
        echoes.replies.append(sent)
        log.info("echoed %s (%s, %d bytes) to %s", message.new_msg_id, image.type.name,
                 len(content), message.from_user)
        return {"echoed": str(message.new_msg_id)}, 200

    return bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-base-url", default="http://127.0.0.1:4010/gewe/v2/api")
    parser.add_argument("--token", default="gewe-mock-token")
    parser.add_argument("--app-id", default="wx_MockDevice00000000001")
    parser.add_argument("--file-base-url", help="self-hosted GeWe's file server (port 2532)")
    parser.add_argument("--register", metavar="CALLBACK_URL",
                        help=f"set this as GeWe's callback URL first (ends in {CALLBACK_PATH})")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if options.register:
        with GeweClient(options.api_base_url, options.token, options.app_id) as gewe:
            gewe.set_callback(options.register)
    bot = create_bot(options.api_base_url, options.token, options.app_id,
                     file_base_url=options.file_base_url)
    bot.run(host="127.0.0.1", port=options.port, threaded=True)


if __name__ == "__main__":
    main()
