"""Feeds broken the way real publishers break them, read anyway.

Run before feedparser, on every XML feed, and cheap:
- `defuse_doctype`: an internal DTD subset keeps only plain entities (a literal value, no
  references, nothing external), so no entity expansion ever blows up (billion laughs) and no
  file or URL is read (XXE). feedparser filters a DOCTYPE too, but misses one that shares a
  line with the XML declaration; expat then expands until its amplification limit.
- `fix_encoding`: a UTF-8 document labelled ISO-8859-1/Windows-1252 is read as UTF-8 (else
  every accent becomes mojibake), and Windows-1252 bytes inside a UTF-8 document are read as
  Windows-1252 one by one, instead of the whole document falling back to it.

Run only when feedparser found no item, raised, or read a truncated document (`repair_xml`):
the text before the root element (PHP warnings, comments, a second or misplaced XML
declaration) and after it (junk, a fatal error) is dropped; a truncated document is cut after
its last complete item and its open elements closed; control characters, undefined HTML
entities, raw `&`, unquoted attribute values and undeclared namespace prefixes are mended.

`load_json` reads a JSON Feed, keeping the complete items of a truncated one, and turns a
document nested too deeply for the parser into a ParseError instead of a RecursionError.
"""

from __future__ import annotations

import codecs
import html.entities
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import ParseError
from ..safetext import xml_safe

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """A codecs error handler: undecodable bytes read as Windows-1252 (latin-1 where
    Windows-1252 leaves a byte undefined)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    raw = exc.object[exc.start:exc.end]
    return raw.decode("cp1252", errors="replace").replace("\ufffd", ""), exc.end


codecs.register_error("digest-cp1252", _cp1252_bytes)


def lenient_utf8(body: bytes) -> str:
    """UTF-8, with stray Windows-1252 bytes read as such."""
    return body.decode("utf-8", errors="digest-cp1252")


def document_start(body: bytes) -> str:
    """The start of the document after blanks, whatever its encoding ('' if none)."""
    head = body[:4096]
    if head[:2] in _UTF16_BOMS:
        return head.decode("utf-16", errors="ignore").lstrip("\ufeff \t\r\n\x00")[:512]
    return head.lstrip(_UTF8_BOM + b" \t\r\n\x00")[:512].decode("latin-1")


# --------------------------------------------------------------------------- every feed

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+([\w:.-]+)[^\[>]*(?:\[.*?\]\s*)?>", re.S)
_PLAIN_ENTITY = re.compile(rb"<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:\"([^\"&%<]{0,1000})\"|"
                           rb"'([^'&%<]{0,1000})')\s*>")


def defuse_doctype(body: bytes) -> bytes:
    """`body` with only plain entity declarations left in its DOCTYPE."""
    start = _FIRST_ELEMENT.search(body, 0, 65536)
    prolog = body[: start.start()] if start else body[:65536]
    if b"<!ENTITY" not in prolog:
        return body
    doctype = _DOCTYPE.search(prolog)
    if doctype is None:
        return body
    plain = [m.group(0) for m in _PLAIN_ENTITY.finditer(doctype.group(0))]
    replacement = (b"<!DOCTYPE " + doctype.group(1) + b" [" + b"".join(plain) + b"]>"
                   if plain else b"")
    return body[: doctype.start()] + replacement + body[doctype.end():]


_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.I)
_LATIN = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso-8859-15", "windows-1252",
          "cp1252", "us-ascii", "ascii"}


@dataclass(frozen=True)
class Recoded:
    body: bytes
    content_type: str
    note: str


def fix_encoding(body: bytes, content_type: str | None) -> Recoded | None:
    """A re-labelled or re-encoded copy of `body` when its encoding label is wrong, else None.

    Only UTF-8 and the Latin single-byte labels are second-guessed: text in those that is
    valid UTF-8 with non-ASCII in it is UTF-8 (Latin-1 prose almost never is)."""
    if body.isascii() or body[:2] in _UTF16_BOMS or body[:4] == b"\x00\x00\xfe\xff":
        return None
    http = _CHARSET.search(content_type or "")
    declared = _DECLARED.match(body.removeprefix(_UTF8_BOM)[:512])
    label = (http.group(1) if http
             else declared.group(1).decode("ascii") if declared else "utf-8").lower()
    if label not in _LATIN and label not in ("utf-8", "utf8"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        if label in _LATIN:
            return None  # really Latin: feedparser reads it as labelled
        text, note = lenient_utf8(body), "Windows-1252 bytes in a UTF-8 document"
    else:
        if label not in _LATIN:
            return None
        text, note = body.decode("utf-8"), f"labelled {label} but UTF-8"
    text = re.sub(r"^(\ufeff?\s*<\?xml[^>]*?encoding\s*=\s*[\"'])[A-Za-z0-9._-]+", r"\1utf-8",
                  text, count=1)
    return Recoded(text.encode("utf-8"), "application/xml; charset=utf-8", note)


# --------------------------------------------------------------------------- repair

_ROOT = re.compile(r"<((?:[\w.-]+:)?(?:rss|feed|RDF))[\s>/]")
_XML_DECL = re.compile(r"<\?xml(?![\w-]).*?\?+>", re.S)
_ITEM_END = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>")
_MARKUP = re.compile(r"<!\[CDATA\[.*?(?:\]\]>|$)|<!--.*?(?:-->|$)|<\?.*?(?:\?>|$)|<![^>]*>"
                     r"|<(/?)([A-Za-z_][\w:.-]*)(?:\s[^<>]*?)?(/?)>", re.S)
_CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_AMP = re.compile(r"&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][\w.-]*));|&")
_START_TAG = re.compile(r"<[A-Za-z_][^<>]*>")
_UNQUOTED = re.compile(r"(\s[\w:.-]+)\s*=\s*([^\s\"'<>=]+)")
_PREFIXED = re.compile(r"</?([A-Za-z_][\w.-]*):[A-Za-z_]")
_DECLARED_PREFIX = re.compile(r"\sxmlns:([A-Za-z_][\w.-]*)\s*=")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
# The namespaces feeds use without declaring them; any other undeclared prefix is dropped.
KNOWN_NAMESPACES = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "media": "http://search.yahoo.com/mrss/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "wfw": "http://wellformedweb.org/commentAPI/",
    "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
    "georss": "http://www.georss.org/georss",
    "thr": "http://purl.org/syndication/thread/1.0",
}


@dataclass(frozen=True)
class Repaired:
    body: bytes  # UTF-8, with a matching XML declaration
    fixes: list[str]  # what was mended, for the feed report


def decode_document(body: bytes, content_type: str | None = None) -> str:
    """The text of an XML document: its BOM, else its declared or HTTP encoding when that
    decodes it, else UTF-8 with stray Windows-1252 bytes."""
    if body[:2] in _UTF16_BOMS:
        return body.decode("utf-16", errors="replace")
    declared = _DECLARED.match(body.removeprefix(_UTF8_BOM)[:512])
    http = _CHARSET.search(content_type or "")
    for label in (declared.group(1).decode("ascii") if declared else None,
                  http.group(1) if http else None):
        if label and label.lower() not in ("utf-8", "utf8"):
            try:
                return body.decode(label)
            except (LookupError, UnicodeDecodeError):
                continue
    return lenient_utf8(body.removeprefix(_UTF8_BOM))


def repair_xml(body: bytes, content_type: str | None = None) -> Repaired | None:
    """A mended copy of a malformed feed, or None when it has no feed root element."""
    text = decode_document(body, content_type)
    fixes: list[str] = []
    cleaned = xml_safe(text)
    if len(cleaned) != len(text):
        fixes.append("control characters")
    text = cleaned
    root = _ROOT.search(text)
    if root is None:
        return None
    prolog = text[: root.start()].lstrip("\ufeff")
    declarations = _XML_DECL.findall(prolog)
    if len(declarations) > 1:
        fixes.append("a second XML declaration")
    elif declarations and not prolog.startswith("<?xml"):
        fixes.append("an XML declaration not at the start")
    rest = re.sub(r"<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", "",
                  _XML_DECL.sub("", prolog), flags=re.S)
    if rest.strip():
        fixes.append("text before the root element")
    text = _XML_DECL.sub("", text[root.start():])
    text = _close_root(text, root.group(1), fixes)
    if text is None:
        return None
    text = _mend_markup(text, fixes)
    text = _declare_prefixes(text, fixes)
    return Repaired(('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8"), fixes)


def _close_root(text: str, root: str, fixes: list[str]) -> str | None:
    """The document up to the end of its root element; a truncated one up to its last
    complete item, with the elements still open closed."""
    end = _last(re.finditer(rf"</{re.escape(root)}\s*>", text))
    if end is not None:
        if text[end.end():].strip():
            fixes.append("junk after the root element")
        return text[: end.end()]
    last = _last(_ITEM_END.finditer(text))
    if last is None:
        return None
    fixes.append("truncated: kept the complete items")
    text = text[: last.end()]
    open_elements: list[str] = []
    for match in _MARKUP.finditer(text):
        closing, name, empty = match.groups()
        if name is None or empty:
            continue
        if not closing:
            open_elements.append(name)
        elif name in open_elements:
            del open_elements[len(open_elements) - 1 - open_elements[::-1].index(name):]
    return text + "".join(f"</{name}>" for name in reversed(open_elements))


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    last = None
    for last in matches:  # noqa: B007 - the loop only finds the last one
        pass
    return last


def _mend_markup(text: str, fixes: list[str]) -> str:
    """References, raw `&` and unquoted attribute values, outside CDATA sections."""
    counts = {"entities": 0, "amps": 0, "attrs": 0}

    def reference(match: re.Match[str]) -> str:
        decimal, hexadecimal, name = match.groups()
        if decimal or hexadecimal:
            code = int(decimal) if decimal else int(hexadecimal, 16)
            if code > 0x10FFFF or xml_safe(chr(code)) == "":
                counts["entities"] += 1
                return ""
            return match.group(0)
        if name is None:
            counts["amps"] += 1
            return "&amp;"
        if name in _XML_ENTITIES:
            return match.group(0)
        counts["entities"] += 1
        value = html.entities.html5.get(name + ";")
        return "".join(f"&#{ord(c)};" for c in value) if value else f"&amp;{name};"

    def attributes(match: re.Match[str]) -> str:
        tag, n = _UNQUOTED.subn(r'\1="\2"', match.group(0))
        counts["attrs"] += n
        return tag

    parts = _CDATA.split(text)
    for i in range(0, len(parts), 2):  # the odd parts are CDATA sections
        if "&" in parts[i]:
            parts[i] = _AMP.sub(reference, parts[i])
        parts[i] = _START_TAG.sub(attributes, parts[i])
    for key, label in (("entities", "undefined or invalid entities"),
                       ("amps", "unescaped '&'"), ("attrs", "unquoted attribute values")):
        if counts[key]:
            fixes.append(label)
    return "".join(parts)


def _declare_prefixes(text: str, fixes: list[str]) -> str:
    """Well-known undeclared prefixes declared on the root element; unknown ones dropped."""
    declared = set(_DECLARED_PREFIX.findall(text)) | {"xml", "xmlns"}
    used = set(_PREFIXED.findall(text)) - declared
    if not used:
        return text
    known = sorted(p for p in used if p in KNOWN_NAMESPACES)
    unknown = sorted(used - set(known))
    if known:
        names = "".join(f' xmlns:{p}="{KNOWN_NAMESPACES[p]}"' for p in known)
        text = re.sub(r"^(<[\w:.-]+)", lambda m: m.group(1) + names, text, count=1)
    for prefix in unknown:
        text = re.sub(rf"(</?|\s){re.escape(prefix)}:(?=[A-Za-z_])", r"\1", text)
    fixes.append("undeclared namespace prefixes " + ", ".join(sorted(used)))
    return text


# --------------------------------------------------------------------------- JSON Feed


def json_text(body: bytes) -> tuple[str, str | None]:
    """The text of a JSON document and a note when it was not plain UTF-8."""
    if body[:2] in _UTF16_BOMS:
        return body.decode("utf-16", errors="replace"), "UTF-16 instead of UTF-8"
    body = body.removeprefix(_UTF8_BOM)
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return lenient_utf8(body), "Windows-1252 bytes in a UTF-8 document"


_ITEMS_KEY = re.compile(r'"items"\s*:\s*\[')
_VERSION_KEY = re.compile(r'"version"\s*:\s*"([^"]*)"')


def load_json(text: str) -> tuple[Any, str | None]:
    """The decoded document and a note when only part of it could be read."""
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    try:
        data, end = decoder.raw_decode(text, start)
    except RecursionError:
        raise ParseError("not a feed: JSON nested deeper than the parser's limit "
                         "(about 1,000 levels)") from None
    except json.JSONDecodeError as exc:
        data = _complete_items(text, decoder)
        if data is None:
            raise ParseError(f"not a feed: invalid JSON ({exc.msg} at line {exc.lineno})"
                             ) from exc
        return data, (f"invalid JSON ({exc.msg} at line {exc.lineno}): read the "
                      f"{len(data['items'])} complete item(s) before it")
    if text[end:].strip():
        return data, "text after the JSON document ignored"
    return data, None


def _complete_items(text: str, decoder: json.JSONDecoder) -> dict[str, Any] | None:
    """A truncated JSON Feed's top-level keys and the items complete before the cut."""
    items_key = _ITEMS_KEY.search(text)
    version = _VERSION_KEY.search(text)
    if items_key is None or version is None:
        return None
    items: list[Any] = []
    position = items_key.end()
    whitespace = re.compile(r"\s*")
    while True:
        position = whitespace.match(text, position).end()
        if position >= len(text) or text[position] == "]":
            break
        try:
            item, position = decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            break
        items.append(item)
        position = whitespace.match(text, position).end()
        if text[position:position + 1] != ",":
            break
        position += 1
    if not items:
        return None
    head = text[: items_key.start()].rstrip().rstrip(",") + "}"
    try:
        data = json.loads(head)
    except (json.JSONDecodeError, RecursionError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data.setdefault("version", version.group(1))
    data["items"] = items
    return data
