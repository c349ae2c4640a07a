"""A bot on the WeChat instance ("wid") API that downloads every image it receives.

The wid API POSTs each message of the instance to the registered URL, in the old format
(``messageType`` 6 / 10) or the newer one ("60002" / "80002"); ``chatimg.inbound`` reads both.
The bot asks ``getMsgImg`` for the image's URL, fetches the bytes and logs them. The documents
give no API to send an image, so it echoes nothing back. It de-duplicates on ``newMsgId``,
and answers within the 6 s after which the vendor drops a callback.

    chatimg-mock serve &
    python examples/wid_echo_bot.py --port 8081 --register http://127.0.0.1:8081/wid/callback
    curl -s http://127.0.0.1:4010/__admin/wid/messages -H 'Content-Type: application/json' \\
        -d '{"fromUser": "wxid_friend01"}'
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
from dataclasses import dataclass, field

import httpx
from flask import Flask, request

from chatimg import ChatImageError, ProtocolError, WidClient
from chatimg.inbound import parse_wid_callback

CALLBACK_PATH = "/wid/callback"
log = logging.getLogger("wid_echo_bot")


@dataclass
class Echoes:
    """What the bot has done: ``bot.extensions["echoes"]``."""

    received: list[str] = field(default_factory=list)  # md5 of each image downloaded
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
        """Forget a message that failed, so a later attempt is handled again."""
        with self._lock:
            self._handled.discard(new_msg_id)


def create_bot(api_base_url: str, authorization: str, w_id: str) -> Flask:
    """The bot for one WeChat instance (``w_id``) of a login (``authorization``)."""
    wid = WidClient(api_base_url, authorization, w_id)
    files = httpx.Client(timeout=30)
    echoes = Echoes()
    bot = Flask(__name__)
    bot.extensions["echoes"] = echoes

    @bot.post(CALLBACK_PATH)
    def callback() -> tuple[dict[str, str], int]:
        try:
            message = parse_wid_callback(request.get_json(force=True))
        except ProtocolError as error:
            return {"error": str(error)}, 400
        if message is None or message.self_sent:
            return {"ignored": "not an image from someone else"}, 200
        if not echoes.claim(message.new_msg_id):
            return {"ignored": f"duplicate {message.new_msg_id}"}, 200
        try:
            url = wid.get_msg_img(message.msg_id, message.from_user, message.to_user,
                                  message.xml)
            content = files.get(url).raise_for_status().content
        except (ChatImageError, httpx.HTTPError) as error:
            echoes.release(message.new_msg_id)
            log.warning("could not download %s: %s", message.new_msg_id, error)
            return {"error": str(error)}, 500
        digest = hashlib.md5(content).hexdigest()
        echoes.received.append(digest)
        log.info("image %s from %s%s: %d bytes, md5 %s", message.new_msg_id, message.from_user,
                 f" in {message.chatroom}" if message.chatroom else "", len(content), digest)
        return {"received": str(message.new_msg_id)}, 200

    return bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-base-url", default="http://127.0.0.1:4010")
    parser.add_argument("--authorization", default="wid-mock-authorization")
    parser.add_argument("--w-id", default="00000171-0504-4e11-0005-89183b61f7e4")
    parser.add_argument("--register", metavar="CALLBACK_URL",
                        help=f"set this as the instance's callback URL first (ends in "
                             f"{CALLBACK_PATH})")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if options.register:
        with WidClient(options.api_base_url, options.authorization, options.w_id) as wid:
            wid.set_callback_url(options.register)
    bot = create_bot(options.api_base_url, options.authorization, options.w_id)
    bot.run(host="127.0.0.1", port=options.port, threaded=True)


if __name__ == "__main__":
    main()
