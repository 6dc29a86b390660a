"""Mail servers for the mail tests: a real SMTP server on loopback (aiosmtpd), one that hangs,
and a Django mail backend that refuses the first sends."""

import socket
import threading
from email import message_from_bytes
from email.message import Message
from smtplib import SMTPServerDisconnected

from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class _Collect:
    def __init__(self):
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(sorted(envelope.rcpt_tos))
        with self.lock:
            self.messages.append(message)
        return "250 OK"


class SmtpServer:
    """An SMTP server on 127.0.0.1:`port` keeping what it is sent (.messages, .subjects())."""

    def __init__(self, port: int):
        self.port = port
        self._handler = _Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Message]:
        with self._handler.lock:
            return list(self._handler.messages)

    def subjects(self) -> list[str]:
        return sorted(str(m["Subject"]) for m in self.messages)


class HangingSmtp:
    """Takes connections and never says a word, as a mail server that is stuck: a client waits
    for the greeting until its own timeout."""

    def __init__(self, port: int):
        self.port = port
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(64)  # the kernel completes the handshakes; nobody answers

    def stop(self) -> None:
        self._socket.close()


def smtp_url(port: int) -> str:
    return f"smtp://127.0.0.1:{port}"


class FlakyBackend(BaseEmailBackend):
    """Refuses the first `failures` sends, as a mail server that is restarting."""

    failures = 0
    tries = 0

    def send_messages(self, messages):
        FlakyBackend.tries += 1
        if FlakyBackend.tries <= FlakyBackend.failures:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        mail.outbox.extend(messages)
        return len(messages)
