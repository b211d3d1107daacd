"""`digest dns`: the DNS records a newsletter needs, in zone-file form with a comment on each.

DKIM: the public half of `[delivery.dkim] key_file`, as a TXT record split into strings of at
most 255 characters (RFC 7208 §3.3, RFC 6376 §3.6.2.2). SPF: on the return-path domain (the
envelope sender is what SPF checks, and what DMARC aligns with the From domain). DMARC: p=none
with aggregate reports to start. MX (or forwarding) for the return-path and unsubscribe
domains, so bounces and unsubscribe mail reach `digest inbound`."""

from __future__ import annotations

import base64
from email.utils import parseaddr
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..config import Config, DkimConfig
from ..config.inbound import verp_template
from ..errors import ConfigError

TXT_STRING = 255  # a DNS character-string holds at most 255 octets


def txt_strings(text: str) -> list[str]:
    """`text` cut into quoted DNS strings of at most 255 characters each."""
    return [f'"{text[i:i + TXT_STRING]}"' for i in range(0, len(text), TXT_STRING)] or ['""']


def dkim_public_record(dkim: DkimConfig) -> str:
    """The DKIM TXT value ("v=DKIM1; k=rsa; p=…") for the private key in key_file."""
    path = Path(dkim.key_file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"delivery.dkim.key_file: cannot read {path}: {exc.strerror}",
                          hint="point key_file at the PEM private key that signs the mail")\
            from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"delivery.dkim.key_file: {path} is not an unencrypted PEM private "
                          f"key ({exc})",
                          hint="make one with `openssl genrsa -out dkim.key 2048`") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"delivery.dkim.key_file: {path} is not an RSA key",
                          hint="DKIM signing here uses RSA: `openssl genrsa -out dkim.key 2048`")
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii")


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment, approximately: the same domain or one inside the other (the
    exact rule compares organizational domains, from the public suffix list)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return domain == from_domain or domain.endswith("." + from_domain) \
        or from_domain.endswith("." + domain)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def dns_records(config: Config) -> list[str]:
    """The lines `digest dns` prints."""
    newsletter, delivery = config.newsletter, config.delivery
    from_address = parseaddr(newsletter.from_address)[1]
    from_domain = _domain(from_address)
    return_path = delivery.return_path or from_address
    bounce_domain = _domain(return_path)
    lines = [f"; DNS records for {newsletter.name} (`digest dns`): publish them at your DNS "
             "provider.",
             f"; From: {from_address}   return path (MAIL FROM): {return_path}",
             ""]
    lines += _dkim(config, from_domain)
    lines += ["; SPF, on the return-path domain: SPF checks the envelope sender, and DMARC",
              f"; counts it when {bounce_domain} aligns with the From domain {from_domain}."]
    if not aligned(bounce_domain, from_domain):
        lines.append(f"; WARNING: {bounce_domain} does not align with {from_domain}: SPF "
                     "cannot pass DMARC for this mail, only DKIM can.")
    if delivery.smtp is not None:
        lines += [f"; The relay is {delivery.smtp.host}: if it is an ESP, use the include its "
                  "documentation gives (e.g. include:mailgun.org) instead of a:.",
                  f'{bounce_domain}. 3600 IN TXT "v=spf1 a:{delivery.smtp.host} ~all"']
    else:
        lines += ["; List the hosts that send this mail (ip4:, a:, include:).",
                  f'{bounce_domain}. 3600 IN TXT "v=spf1 mx ~all"']
    lines += ["",
              "; DMARC for the From domain: p=none to start, read the aggregate reports sent",
              f"; to rua for a few weeks, then p=quarantine and p=reject. dmarc-reports@"
              f"{from_domain} must exist.",
              f'_dmarc.{from_domain}. 3600 IN TXT "v=DMARC1; p=none; '
              f'rua=mailto:dmarc-reports@{from_domain}; adkim=r; aspf=r"',
              ""]
    lines += _inbound(config, bounce_domain, from_domain)
    return lines


def _dkim(config: Config, from_domain: str) -> list[str]:
    dkim = config.delivery.dkim
    if dkim is None:
        return ["; DKIM: not configured. Make a key (`openssl genrsa -out dkim.key 2048`), set",
                "; [delivery.dkim] domain, selector and key_file, and run `digest dns` again.",
                ""]
    value = dkim_public_record(dkim)
    strings = txt_strings(value)
    lines = [f"; DKIM: the public half of {dkim.key_file} (selector {dkim.selector!r}); "
             f"{len(strings)} string(s) of at most {TXT_STRING} characters, one record."]
    if not aligned(dkim.domain, from_domain):
        lines.append(f"; WARNING: d={dkim.domain} does not align with the From domain "
                     f"{from_domain}: DMARC needs a DKIM signature of {from_domain}.")
    name = f"{dkim.selector}._domainkey.{dkim.domain}."
    lines.append(f"{name} 3600 IN TXT ( " + " ".join(strings) + " )")
    return lines + [""]


def _inbound(config: Config, bounce_domain: str, from_domain: str) -> list[str]:
    """Where bounces (the return path) and unsubscribe mail (the List-Unsubscribe mailto
    address) must be delivered: a host whose MTA hands them to `digest inbound`."""
    verp = verp_template(config.delivery.return_path)
    unsubscribe = f"unsubscribe@{config.newsletter.sender_domain}"
    wanted = [(bounce_domain, f"bounces: {config.delivery.return_path or 'the From address'}"
               + (" (every address the template makes: use recipient_delimiter = +)"
                  if verp else ""))]
    unsubscribe_domain = _domain(unsubscribe)
    if unsubscribe_domain == bounce_domain:
        wanted[0] = (bounce_domain, wanted[0][1] + f"; unsubscribe mail: {unsubscribe}")
    else:
        wanted.append((unsubscribe_domain, f"unsubscribe mail: {unsubscribe}"))
    lines = ["; Bounces and unsubscribe mail must reach `digest inbound` (LMTP or a pipe: see",
             "; README, \"Bounces, complaints and unsubscribe mail\"). Either an MX to the host",
             "; whose MTA runs it, or, when the domain already receives mail elsewhere, a",
             "; forward of these addresses to it."]
    for domain, what in wanted:
        lines += [f"; {domain}: {what}",
                  f"{domain}. 3600 IN MX 10 mail.{domain}.   ; your MTA's host name"]
    return lines
