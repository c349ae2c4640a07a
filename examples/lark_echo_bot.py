"""A Lark / Feishu bot that sends every image it receives back.

Lark POSTs events to the app's request URL; lark-oapi's ``EventDispatcherHandler`` answers the
``url_verification`` challenge, decrypts (with the encrypt key), checks the verification token
and the signature, and hands on ``im.message.receive_v1``. Lark wants a 200 within 3 s, so
the handler only queues the image; a worker thread downloads it (a user's image is a message
resource), uploads it as the bot's own, and sends it back: to the sender in a one-to-one
chat, to the group in a group. It de-duplicates on ``event_id``, as Lark re-sends events.

    chatimg-mock serve &
    python examples/lark_echo_bot.py --port 8082 --encrypt-key my-encrypt-key
    curl -s -X PUT http://127.0.0.1:4010/__admin/lark/apps/cli_mock0000000000a1/events \\
        -H 'Content-Type: application/json' \\
        -d '{"url": "http://127.0.0.1:8082/lark/events", "encrypt_key": "my-encrypt-key"}'
    curl -s http://127.0.0.1:4010/__admin/lark/messages -H 'Content-Type: application/json' \\
        -d '{"chat_type": "group"}'
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Literal

import lark_oapi as lark
from flask import Flask, Response
from lark_oapi.adapter.flask import parse_req, parse_resp
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1

from chatimg import LarkClient, SentMessage
from chatimg.inbound import lark_image_key

EVENTS_PATH = "/lark/events"
log = logging.getLogger("lark_echo_bot")


@dataclass
class Echoes:
    """What the bot has done and is doing: ``bot.extensions["echoes"]``."""

    received: list[str] = field(default_factory=list)  # md5 of each image downloaded
    replies: list[SentMessage] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _handled: set[str] = field(default_factory=set)
    _work: list[Future[None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, event_id: str) -> bool:
        """True the first time an event is seen; Lark's re-sends are not."""
        with self._lock:
            if event_id in self._handled:
                return False
            self._handled.add(event_id)
            return True

    def queued(self, work: Future[None]) -> None:
        with self._lock:
            self._work.append(work)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Return once every queued image is echoed (or failed); TimeoutError otherwise."""
        with self._lock:
            pending = list(self._work)
        if wait(pending, timeout).not_done:
            raise TimeoutError(f"images still being echoed after {timeout} s")


def create_bot(api_base_url: str, app_id: str, app_secret: str, *,
               verification_token: str, encrypt_key: str = "") -> Flask:
    """The bot of one app. ``encrypt_key`` empty: events come in plain JSON (as when the
    console has no encrypt key); otherwise they must be encrypted and signed with it."""
    lark_api = LarkClient(app_id, app_secret, base_url=api_base_url)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lark-echo")
    echoes = Echoes()

    def echo(message_id: str, image_key: str, receive_id: str,
             receive_id_type: Literal["open_id", "chat_id"], event_id: str) -> None:
        try:
            content = lark_api.download_message_resource(message_id, image_key)
            own_key = lark_api.upload_image(content)
            # The event id as uuid: Lark itself sends the reply once, whatever happens here.
            sent = lark_api.send_image(receive_id, own_key, receive_id_type, uuid=event_id)
        except Exception as error:  # the event is already answered: log it, keep serving
            log.exception("could not echo %s", message_id)
            echoes.errors.append(error)
            return
        echoes.received.append(hashlib.md5(content).hexdigest())
        echoes.replies.append(sent)
        log.info("echoed %s (%d bytes) as %s", message_id, len(content), sent.message_id)

    def on_message(data: P2ImMessageReceiveV1) -> None:
        message, sender = data.event.message, data.event.sender
        image_key = lark_image_key(message.content) if message.message_type == "image" else None
        if image_key is None or not echoes.claim(data.header.event_id):
            return
        if message.chat_type == "p2p":
            work = worker.submit(echo, message.message_id, image_key, sender.sender_id.open_id,
                                 "open_id", data.header.event_id)
        else:
            work = worker.submit(echo, message.message_id, image_key, message.chat_id,
                                 "chat_id", data.header.event_id)
        echoes.queued(work)

    events = (lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
              .register_p2_im_message_receive_v1(on_message).build())
    bot = Flask(__name__)
    bot.extensions["echoes"] = echoes

    @bot.post(EVENTS_PATH)
    def receive_event() -> Response:
        answer: Response = parse_resp(events.do(parse_req()))
        return answer

    return bot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--api-base-url", default="http://127.0.0.1:4010",
                        help="https://open.feishu.cn or https://open.larksuite.com for real")
    parser.add_argument("--app-id", default="cli_mock0000000000a1")
    parser.add_argument("--app-secret", default="mock-secret-a")
    parser.add_argument("--verification-token", default="mock-verification-token")
    parser.add_argument("--encrypt-key", default="")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    bot = create_bot(options.api_base_url, options.app_id, options.app_secret,
                     verification_token=options.verification_token,
                     encrypt_key=options.encrypt_key)
    bot.run(host="127.0.0.1", port=options.port, threaded=True)


if __name__ == "__main__":
    main()
