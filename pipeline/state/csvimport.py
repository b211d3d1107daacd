"""Reading a subscriber CSV as the mail services export it: the parsing half of
`digest subscribers import` (subscribers.import_csv does the validating and the writing).

Pure apart from reading the file: bytes in, `ParsedCsv` out. What it copes with, each row
reported by the physical line it starts on (the header is line 1):

- Mailchimp (`Email Address`, `First Name`, `Last Name`; its unsubscribed and cleaned exports
  are recognised by their UNSUB_TIME / CLEAN_TIME columns), Substack (`email`,
  `email_disabled`), Buttondown (`email`, `subscriber_type` or `type`), listmonk (`email`,
  `name`, `status`) and any CSV with an email column.
- A status column: every row is mapped to one of our statuses, the strictest one wins when
  several columns speak, and a value we do not know rejects the row: it is never guessed active.
- Comma, semicolon (European Excel), tab or pipe separated, a `sep=;` first line, a UTF-8 BOM,
  UTF-16 with a BOM. Any other encoding is refused with the line of the first bad byte.
- Broken quoting: Python's csv module reads an unterminated quote to the end of the file (or
  until a field passes 131,072 characters) as one field, silently swallowing every row after
  it. Strict parsing turns that into an error; a record spanning lines whose inner lines look
  like rows of their own is treated the same. The record's first line is rejected, naming the
  line the quote starts on, and parsing starts again on the next line, so the valid rows after
  it are still read. (Refusing the whole file would be as safe, but one stray quote in a
  22,000-row export would then block everyone; each row is read from its own line, so nothing
  after the bad line is misread.)
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Header names compared without case, spaces or punctuation ("Email Address" → "emailaddress").
EMAIL_COLUMNS = ("email", "emailaddress", "mail", "emailaddr")
NAME_COLUMNS = ("name", "fullname", "displayname", "subscribername")
FIRST_NAME_COLUMNS = ("firstname", "fname", "first", "givenname", "forename")
LAST_NAME_COLUMNS = ("lastname", "lname", "last", "surname", "familyname")
# "type" last: Buttondown's older exports; elsewhere it may mean something else, and an
# unknown value only rejects the row.
STATUS_COLUMNS = ("status", "subscribertype", "subscriptionstatus", "memberstatus", "state",
                  "type")
DISABLED_COLUMNS = ("emaildisabled",)  # Substack: the reader turned the emails off
# Mailchimp exports each status to its own file; these columns mark the whole file.
FILE_STATUS_COLUMNS = {"unsubtime": ("unsubscribed", "Mailchimp unsubscribed export"),
                       "cleantime": ("bounced", "Mailchimp cleaned export")}

# Every status value the services above write, mapped to ours (normalised: lower case, runs
# of space, "-" and "_" as one space).
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "active": ("", "active", "subscribed", "subscriber", "regular", "enabled", "confirmed",
               "opted in", "opt in", "optin", "premium", "paid", "free", "comp",
               "complimentary", "gift", "gifted", "trial", "trialed", "trialing", "churning",
               "past due", "unpaid", "paused", "founding", "member"),
    "pending": ("pending", "unconfirmed", "unactivated", "not confirmed", "unverified",
                "awaiting confirmation"),
    "unsubscribed": ("unsubscribed", "unsubscribe", "opted out", "opt out", "optout",
                     "blocklisted", "blacklisted", "blocked", "disabled", "removed", "deleted",
                     "inactive", "archived", "suppressed", "nonsubscribed", "non subscribed"),
    "bounced": ("bounced", "bounce", "cleaned", "hard bounce", "hard bounced", "undeliverable",
                "invalid", "malformed", "spammy", "disposable"),
    "complained": ("complained", "complaint", "spam", "spam complaint", "abuse",
                   "marked as spam"),
}
STATUS_OF = {word: status for status, words in STATUS_WORDS.items() for word in words}
SEVERITY = ("active", "pending", "unsubscribed", "bounced", "complained")  # the strictest wins
TRUE_WORDS = ("true", "t", "yes", "y", "1")
LOOKS_LIKE_ADDRESS = re.compile(r"^[^@\s,;\"]+@[^@\s,;\"]+\.[^@\s,;\"]+$")
SEPARATOR_LINE = re.compile(r"^sep=(.)\s*$")  # Excel's hint line: "sep=;"
DELETION_REQUEST = "@deletion-request.substack.com"  # Substack's placeholder for erased readers


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str
    name: str | None
    status: str  # one of SEVERITY
    label: str  # what the file said, for the report ("" when it said nothing)


@dataclass
class ParsedCsv:
    rows: list[CsvRow] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)  # how the header was read, for the report


@dataclass(frozen=True)
class _Columns:
    width: int
    email: int
    name: int | None = None
    first: int | None = None
    last: int | None = None
    status: int | None = None
    disabled: int | None = None
    file_status: tuple[str, str] | None = None  # (status, why) for every row


def column_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.replace("\ufeff", "").lower())


def status_word(value: str) -> str:
    return re.sub(r"[\s_-]+", " ", value.strip().lower())


# --------------------------------------------------------------------------- decoding


def read_text(path: Path) -> str:
    """The file as text; UsageError (exit 2) when it cannot be read or is not text."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})",
                         hint="check the path and its permissions") from exc
    if raw.startswith(b"PK\x03\x04"):
        raise UsageError(f"{path}: is a ZIP archive (an Excel workbook or a zipped export), "
                         "not a CSV file",
                         hint="unzip the export, or save the sheet as 'CSV UTF-8'")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text" export
    else:
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UsageError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="export or save the file as UTF-8 (Excel: 'CSV UTF-8'). Other encodings are not"
                 " guessed: a wrong guess would misspell names in every greeting") from exc
    if not text.strip():
        raise UsageError(f"{path}: the file is empty",
                         hint="the first line must name the columns, e.g. email,name")
    return text


# --------------------------------------------------------------------------- records


class _Lines:
    """The file's physical lines, fed to csv.reader one at a time; `pos` counts the lines
    read, so a record's first line is known and parsing can start again after a bad one."""

    def __init__(self, lines: list[str], pos: int = 0) -> None:
        self.lines = lines
        self.pos = pos

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def _csv_problem(exc: csv.Error, first: int, last: int) -> str:
    """Why the record starting on line `first` (its parse failed on line `last`) is rejected."""
    message = str(exc)
    after = "the lines after it are read as rows of their own"
    if "unexpected end of data" in message:
        return (f"unterminated quote starting at line {first}: the quoted field runs to the end"
                f" of the file; {after}")
    if "field larger than field limit" in message:
        return (f"unterminated quote or over-long field starting at line {first} (a field over"
                f" {csv.field_size_limit():,} characters); {after}")
    if last > first:  # a quote left open, closed by accident by a quote further down
        return (f"unterminated quote starting at line {first}: lines {first + 1}–{last} were"
                f" read into it; {after}")
    return (f"malformed CSV at line {first} ({message}): a quote inside a quoted field must be"
            " doubled")


def _swallows_rows(lines: list[str], first: int, last: int, delimiter: str, email: int,
                   width: int) -> bool:
    """A record spanning lines `first`..`last` whose inner lines read as rows with an address
    of their own: a quote left open, closed by accident further down."""
    if width < 2:  # one column: nothing tells a row from an address in a note
        return False
    for line in lines[first:last]:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        # A whole row's shape, not just an address someone wrote in a multi-line note.
        if len(fields) >= width and LOOKS_LIKE_ADDRESS.match(fields[email].strip()):
            return True
    return False


def _records(lines: list[str], start: int, delimiter: str, email: int, width: int):
    """(first line, fields, problem) for every record from line index `start`; after a broken
    record, parsing starts again on the line after its first line."""
    source = _Lines(lines, start)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    while True:
        first = source.pos + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield first, None, _csv_problem(exc, first, source.pos)
            source.pos = first
            reader = csv.reader(source, delimiter=delimiter, strict=True)
            continue
        if source.pos > first and _swallows_rows(lines, first, source.pos, delimiter, email,
                                                 width):
            yield first, None, (f"unterminated quote starting at line {first}: lines"
                                f" {first + 1}–{source.pos} were read into it; the lines"
                                " after it are read as rows of their own")
            source.pos = first
            reader = csv.reader(source, delimiter=delimiter, strict=True)
            continue
        yield first, fields, None


# --------------------------------------------------------------------------- the header


def _find(keys: list[str], names: tuple[str, ...], header: list[str], role: str,
          path: Path, line: int) -> int | None:
    found = [i for i, key in enumerate(keys) if key in names]
    if len(found) > 1:
        shown = " and ".join(repr(header[i]) for i in found)
        raise UsageError(f"{path}:{line}: the header has {len(found)} {role} columns ({shown})",
                         hint=f"keep one {role} column; the import cannot tell which is meant")
    return found[0] if found else None


def _columns(header: list[str], path: Path, line: int) -> _Columns | None:
    keys = [column_key(h) for h in header]
    email = _find(keys, EMAIL_COLUMNS, header, "email", path, line)
    if email is None:
        return None
    status = None
    for candidate in STATUS_COLUMNS:  # by preference; the same one twice is ambiguous
        status = _find(keys, (candidate,), header, "status", path, line)
        if status is not None:
            break
    file_status = next((FILE_STATUS_COLUMNS[k] for k in keys if k in FILE_STATUS_COLUMNS), None)
    return _Columns(
        width=len(header), email=email,
        name=_find(keys, NAME_COLUMNS, header, "name", path, line),
        first=_find(keys, FIRST_NAME_COLUMNS, header, "first-name", path, line),
        last=_find(keys, LAST_NAME_COLUMNS, header, "last-name", path, line),
        status=status,
        disabled=_find(keys, DISABLED_COLUMNS, header, "email_disabled", path, line),
        file_status=file_status)


def _describe(columns: _Columns, header: list[str], delimiter: str) -> list[str]:
    said = [f"email from {header[columns.email]!r}"]
    names = [header[i] for i in (columns.name, columns.first, columns.last) if i is not None]
    if names:
        said.append("name from " + " + ".join(repr(n) for n in names))
    if columns.status is not None:
        said.append(f"status from {header[columns.status]!r}")
    if columns.disabled is not None:
        said.append(f"unsubscribed where {header[columns.disabled]!r} is true")
    if columns.file_status:
        said.append(f"every row {columns.file_status[0]} ({columns.file_status[1]})")
    if delimiter != ",":
        said.append(f"{DELIMITER_NAMES[delimiter]}-separated")
    return said


def _header(lines: list[str], path: Path) -> tuple[int, str, list[str], _Columns, int]:
    """(header line number, delimiter, header, columns, index of the first body line)."""
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    delimiters = DELIMITERS
    if index < len(lines) and (hint := SEPARATOR_LINE.match(lines[index].strip())):
        delimiters = (hint.group(1),)
        index += 1
    line = index + 1
    first_read: list[str] | None = None
    error: csv.Error | None = None
    for delimiter in delimiters:  # the first that gives an email column is the separator
        source = _Lines(lines, index)
        try:
            header = next(csv.reader(source, delimiter=delimiter, strict=True), [])
        except csv.Error as exc:  # '"Email";"Name"' read with commas: try the next separator
            error = error or exc
            continue
        first_read = header if first_read is None else first_read
        columns = _columns(header, path, line)
        if columns is not None:
            return line, delimiter, header, columns, source.pos
    if first_read is None and error is not None:
        raise UsageError(f"{path}:{line}: the header row is not valid CSV ({error})",
                         hint="the first line must name the columns, e.g. email,name")
    found = ", ".join(repr(h) for h in first_read or []) or "nothing"
    raise UsageError(f"{path}:{line}: the header row has no 'email' column (found: {found})",
                     hint="the first line must name the columns, e.g. email,name (Mailchimp's "
                          "'Email Address' works too); comma, semicolon or tab separated")


# --------------------------------------------------------------------------- rows


def _value(fields: list[str], index: int | None) -> str:
    if index is None or index >= len(fields):
        return ""
    return fields[index].replace("\ufeff", "").strip()


def _status(fields: list[str], columns: _Columns) -> tuple[str, str] | str:
    """(status, label) of a row, or the reason it is rejected."""
    found = [("active", "")]
    if columns.status is not None:
        said = _value(fields, columns.status)
        status = STATUS_OF.get(status_word(said))
        if status is None:
            return (f"unknown status {said!r} (a status the import does not know is never taken"
                    " as active); known: subscribed, pending, unsubscribed, cleaned, bounced,"
                    " complained and the other words README lists")
        found.append((status, said.lower()))
    if columns.disabled is not None and _value(fields, columns.disabled).lower() in TRUE_WORDS:
        found.append(("unsubscribed", "email_disabled"))
    if columns.file_status:
        found.append((columns.file_status[0], columns.file_status[1]))
    return max(found, key=lambda pair: SEVERITY.index(pair[0]))


def _row(first: int, fields: list[str], columns: _Columns, header_keys: list[str]
         ) -> CsvRow | str | None:
    """The row on line `first`, the reason it is rejected, or None for a blank line."""
    if not any(f.strip() for f in fields):
        return None
    if any("\x00" in f for f in fields):
        return "contains a NUL byte (not text)"
    if [column_key(f) for f in fields] == header_keys:
        return "a repeated header row (two exports joined?)"
    extra = [f for f in fields[columns.width:] if f.strip()]
    if extra:
        return (f"{len(fields)} values where the header has {columns.width} columns (a value"
                " with an unquoted separator?)")
    email = _value(fields, columns.email)
    if email.lower().endswith(DELETION_REQUEST):
        return f"{email!r}: a Substack deletion-request placeholder, not a reader's address"
    status = _status(fields, columns)
    if isinstance(status, str):
        return status
    name = _value(fields, columns.name) or " ".join(
        part for part in (_value(fields, columns.first), _value(fields, columns.last)) if part)
    return CsvRow(first, email, name or None, status[0], status[1])


def parse_export(path: Path) -> ParsedCsv:
    """Every row of the file with its line, or the reason it is rejected. UsageError (exit 2)
    only when the file itself is unusable: unreadable, not text, or no email column."""
    lines = _physical_lines(read_text(path))
    line, delimiter, header, columns, body = _header(lines, path)
    parsed = ParsedCsv(delimiter=delimiter, columns=_describe(columns, header, delimiter))
    header_keys = [column_key(h) for h in header]
    for first, fields, problem in _records(lines, body, delimiter, columns.email,
                                           columns.width):
        row = problem or _row(first, fields or [], columns, header_keys)
        if isinstance(row, CsvRow):
            parsed.rows.append(row)
        elif row:
            parsed.rejected.append((first, row))
    return parsed


def _physical_lines(text: str) -> list[str]:
    """Lines as csv sees them: ended by LF, CR or CRLF (str.splitlines would also split on
    form feeds and Unicode separators, which csv keeps inside fields)."""
    return io.StringIO(text, newline="").readlines()
