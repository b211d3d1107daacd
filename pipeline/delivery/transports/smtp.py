"""SMTP transport: one connection to any relay (a company server; the SMTP endpoints of Amazon
SES, Postmark, Mailgun, SendGrid), reused across messages and reopened after a drop.

smtplib opens the connection (EHLO, STARTTLS or implicit TLS, AUTH); each message then goes out
as one envelope with PIPELINING when the server offers it (MAIL, RCPT and DATA in one write:
two round trips per message instead of four) and is dot-stuffed with one bytes.replace, since
compose already wrote CRLF line endings. Within a batch the end of one message travels with
the next message's MAIL, RCPT and DATA (`send_and_open`, as Postfix's own client does), so each
message costs one round trip; the next content is only sent after the caller has recorded the
previous result, and an envelope opened for a message that does not come is abandoned by
dropping the connection (never by ending DATA, which would deliver an empty message).
Replies are classified for batch.deliver_message:
250 → sent; a 5xx to RCPT → permanent (the address bounced); a 4xx or a dropped connection →
transient (retried); a 5xx to MAIL or DATA → failed without retry.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass

from ...config import Config
from ...errors import ConfigError, DeliveryError
from ...models import DeliveryResult, OutgoingMessage
from .base import Capabilities, ServerUnavailable, Transport


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | ssl | none
    username: str | None
    password: str | None
    timeout: float
    helo: str
    ca_file: str | None = None  # trust this CA bundle instead of the system's

    @classmethod
    def from_config(cls, config: Config) -> SmtpSettings:
        smtp = config.delivery.smtp
        if smtp is None:
            raise ConfigError(f"{config.path}: delivery.smtp is required when "
                              "delivery.transport = 'smtp'",
                              hint="add a [delivery.smtp] table with at least host = \"…\"")
        password = None
        if smtp.password_env:
            password = os.environ.get(smtp.password_env)
            if password is None:
                raise ConfigError(
                    f"{config.path}: delivery.smtp.password_env names ${smtp.password_env}, "
                    "which is not set",
                    hint=f"export {smtp.password_env}=… (the SMTP password) before running")
        if smtp.ca_file is not None and not smtp.ca_file.is_file():
            raise ConfigError(f"{config.path}: delivery.smtp.ca_file: {smtp.ca_file} is not a "
                              "file", hint="give the path of a PEM file of CA certificates")
        if smtp.username and password is None:
            raise ConfigError(f"{config.path}: delivery.smtp.username is set but no password",
                              hint="set delivery.smtp.password_env to the name of an "
                                   "environment variable holding the password")
        return cls(smtp.host, smtp.port, smtp.security, smtp.username, password,
                   smtp.timeout_seconds, smtp.helo or socket.gethostname(),
                   str(smtp.ca_file) if smtp.ca_file else None)

    def tls_context(self) -> ssl.SSLContext:
        """Certificates and host names are always verified; only the trusted CAs can change."""
        return ssl.create_default_context(cafile=self.ca_file)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"[:300]


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 transparency, for a message whose lines already end in CRLF, plus the end."""
    if data.find(b"\r\n.") != -1:  # a search is 7x cheaper than a replace that copies
        data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")


class SmtpTransport(Transport):
    """A Transport over one SMTP connection. It declares how many connections the pool runs
    in parallel (each in its own process, made with `clone`) and that it opens the next
    envelope ahead (PIPELINING, when the server offers it)."""

    def __init__(self, settings: SmtpSettings, connections: int = 1) -> None:
        self.settings = settings
        self.capabilities = Capabilities(connections=connections, opens_ahead=True)
        self._smtp: smtplib.SMTP | None = None
        self._pipelining = False
        self._opened: tuple[str, str] | None = None  # envelope sent ahead, replies unread

    @classmethod
    def from_config(cls, config: Config) -> SmtpTransport:
        settings = SmtpSettings.from_config(config)  # raises ConfigError without [delivery.smtp]
        assert config.delivery.smtp is not None
        return cls(settings, config.delivery.smtp.connections)

    def clone(self) -> SmtpTransport:
        """A new, unconnected transport with the same settings (one per pool worker)."""
        return SmtpTransport(self.settings, 1)

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _open(self) -> None:
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port, local_hostname=s.helo,
                                        timeout=s.timeout, context=s.tls_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=s.helo, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=s.tls_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            if smtp is not None:  # half-open (e.g. the login failed): do not leak the socket
                smtp.close()
            raise
        self._smtp = smtp
        self._pipelining = smtp.has_extn("pipelining")

    def connect(self) -> None:
        """Open the connection (EHLO, TLS, AUTH); each failure becomes an error saying what to
        do. ServerUnavailable (retried) when the server cannot be reached."""
        s = self.settings
        try:
            self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"the SMTP server {self.where} refused the login for "
                                f"{s.username!r}: {_reply(exc.smtp_code, exc.smtp_error)}",
                                hint="check delivery.smtp.username and the password in the "
                                     "variable named by delivery.smtp.password_env") from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"the TLS certificate of {self.where} was not accepted: "
                                f"{exc.verify_message or exc}",
                                hint="check delivery.smtp.host (it must match the certificate);"
                                     " for a private CA set delivery.smtp.ca_file") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"the SMTP server {self.where} does not support "
                                f"{s.security}: {exc}",
                                hint="set delivery.smtp.security to what the relay offers "
                                     "(port 465: 'ssl', port 587: 'starttls')") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(f"cannot reach the SMTP server {self.where}: {exc}",
                                    hint="check delivery.smtp.host/port and that the relay "
                                         "is up") from exc

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        return self.send_and_open(message, None)

    def send_and_open(self, message: OutgoingMessage,
                      upcoming: tuple[str, str] | None) -> DeliveryResult:
        """Send `message`; with PIPELINING also open the envelope (sender, recipient) of the
        next message in the same write."""
        if self._smtp is None:
            self.connect()
        try:
            return self._transaction(message, upcoming)
        except (OSError, smtplib.SMTPException) as exc:  # dropped, timed out, garbled
            self._drop()
            return DeliveryResult(message.recipient, False, None,
                                  f"connection to {self.where} lost: {exc or type(exc).__name__}")

    @staticmethod
    def _envelope(sender: str, recipient: str) -> str:
        return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n"

    def _transaction(self, message: OutgoingMessage,
                     upcoming: tuple[str, str] | None) -> DeliveryResult:
        envelope = (message.sender, message.recipient)
        if self._opened is not None and self._opened != envelope:
            self._drop()  # opened for a message that did not come: abandon it unsent
            self.connect()
        smtp = self._smtp
        assert smtp is not None
        replies: list[tuple[int, bytes]] = []
        if self._opened is not None:
            self._opened = None
            replies = [smtp.getreply() for _ in range(3)]
        elif self._pipelining:
            smtp.send(self._envelope(*envelope))
            replies = [smtp.getreply() for _ in range(3)]
        else:
            for command in (f"MAIL FROM:<{message.sender}>",
                            f"RCPT TO:<{message.recipient}>", "DATA"):
                smtp.send(command + "\r\n")
                replies.append(smtp.getreply())
                if replies[-1][0] >= 400:
                    break
        (mail, mail_text), *rest = replies
        failure: DeliveryResult | None = None
        if mail != 250:
            failure = self._failed(message, mail, mail_text)
        elif rest[0][0] not in (250, 251):
            code, text = rest[0]
            failure = DeliveryResult(message.recipient, False, code, _reply(code, text),
                                     permanent=500 <= code < 600)
        elif rest[1][0] != 354:
            failure = self._failed(message, *rest[1])
        if failure is not None:
            if len(replies) == 3 and replies[2][0] == 354:
                smtp.send(".\r\n")  # DATA was taken despite no valid recipient: end it empty
                smtp.getreply()
            self._reset(failure)
            return failure
        content = dot_stuff(message.data)
        if upcoming is not None and self._pipelining:
            content += self._envelope(*upcoming).encode("ascii")
            self._opened = upcoming
        smtp.send(content)
        code, text = smtp.getreply()
        if code == 250:
            return DeliveryResult(message.recipient, True, 250)
        failure = self._failed(message, code, text)
        self._reset(failure)
        return failure

    def _failed(self, message: OutgoingMessage, code: int, text: bytes) -> DeliveryResult:
        return DeliveryResult(message.recipient, False, code, _reply(code, text))

    def _reset(self, failure: DeliveryResult) -> None:
        """After a refusal: 421 means the server is closing; an envelope opened ahead may be
        in DATA already (RSET would be content); otherwise RSET the envelope."""
        if failure.code == 421 or failure.code is None or self._smtp is None or self._opened:
            self._drop()
            return
        try:
            self._smtp.send("RSET\r\n")
            if self._smtp.getreply()[0] != 250:
                self._drop()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._opened = None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        if self._opened is not None:  # mid-DATA: QUIT would be content; just hang up
            self._drop()
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
