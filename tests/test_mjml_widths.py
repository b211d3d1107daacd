"""Outlook for Windows lays the email out from the `<!--[if mso | IE]>` tables and the images'
width="" attributes. mjml-python (MRML) once read `padding="0 24px 10px"` differently from the
official mjml and gave Outlook 600 px columns in a 552 px design (issue 13). The bundled
templates now write a unit on every length; these tests compare, element by element, the
Outlook widths of what we send with what the official mjml (npm, `make test` installs it)
makes of the same MJML."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import require_mjml_npm
from .emailbuild import IMAGE_URL, build_issue, theme

# MJML attributes that hold lengths. line-height is left out: a bare number is a valid
# multiplier there.
LENGTH_ATTRIBUTES = {
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "inner-padding", "icon-padding", "text-padding", "width", "height", "border-width",
    "border-radius", "font-size", "icon-size", "icon-height", "letter-spacing",
}
LENGTH = re.compile(r"-?\d+(\.\d+)?(px|%)|auto")


def _attribute(attributes: str, name: str) -> str | None:
    match = re.search(rf'(?<![-\w]){name}="([^"]*)"', attributes)
    return match.group(1) if match else None


def _style_width(attributes: str) -> str | None:
    style = _attribute(attributes, "style") or ""
    match = re.search(r"(?:^|;)\s*width:\s*([^;]+)", style)
    return match.group(1).strip() if match else None


def outlook_widths(html: str) -> list[tuple[str, str]]:
    """(element, widths) in document order: every table and cell that Outlook's conditional
    comments give a width (sections, columns, dividers), then every image's width="" ."""
    body = html[html.index("<body"):]
    found: list[tuple[str, str]] = []
    for block in re.findall(r"<!--\[if mso \| IE\]>(.*?)<!\[endif\]-->", body, re.S):
        for tag, attributes in re.findall(r"<(table|td)\b([^>]*)>", block):
            width = _attribute(attributes, "width")
            style_width = _style_width(attributes)
            if width is None and style_width is None:
                continue
            if tag == "td" and "vertical-align:top" in attributes:
                kind = "column"
            elif tag == "table" and "border-top" in attributes:
                kind = "divider"
            elif tag == "table" and 'align="center"' in attributes:
                kind = "section"
            else:
                kind = tag
            found.append((kind, f"width={(width or '-').removesuffix('px')} "
                                f"style={style_width or '-'}"))
    for attributes in re.findall(r"<img\b([^>]*)>", body):
        found.append((f"img {_attribute(attributes, 'src')}",
                      f"width={_attribute(attributes, 'width') or '-'}"))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_issue(tmp_path_factory.mktemp("widths") / "news")


def test_every_mjml_length_has_a_unit(built) -> None:
    # A bare `0` is where mjml-python and official mjml part ways: none may reach the MJML.
    mjml = built.mjml
    tags = re.findall(r"<mj-[\w-]+\b([^>]*)>", mjml)
    assert len(tags) > 50
    bare = []
    for attributes in tags:
        for name, value in re.findall(r'([\w-]+)="([^"]*)"', attributes):
            if name in LENGTH_ATTRIBUTES and not all(LENGTH.fullmatch(token)
                                                     for token in value.split()):
                bare.append(f'{name}="{value}"')
    assert bare == [], f"lengths without a unit in email.mjml: {bare}"


def test_the_unit_check_catches_a_bare_zero() -> None:
    # The check above is only worth something if it fails on the old template's padding.
    assert not all(LENGTH.fullmatch(token) for token in "0 24px 10px".split())
    assert all(LENGTH.fullmatch(token) for token in "0px 24px 10px".split())


@pytest.mark.mjml_npm
def test_outlook_widths_match_the_official_mjml(built, tmp_path: Path) -> None:
    source = tmp_path / "email.mjml"
    source.write_text(built.mjml, encoding="utf-8")
    result = subprocess.run([str(require_mjml_npm()), str(source), "-s"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    official = outlook_widths(result.stdout)
    ours = outlook_widths(built.html)  # what `digest build` archived and sends

    kinds = [kind for kind, _ in official]
    assert kinds.count("section") >= 8 and kinds.count("column") >= 8, official
    assert any(kind.startswith(f"img {IMAGE_URL}") for kind in kinds)
    # The same elements in the same order, then the same widths for each.
    assert [kind for kind, _ in ours] == kinds
    differences = [f"#{n} {kind}: mjml-python {mine} vs official {theirs}"
                   for n, ((kind, mine), (_, theirs)) in enumerate(zip(ours, official,
                                                                        strict=True))
                   if mine != theirs]
    assert differences == [], "\n".join(differences)

    # The design's content column, everywhere, in both: the body width minus two gutters.
    content = theme()["content_width"]
    assert content == 552
    for kind, widths in ours:
        if kind == "column":
            assert widths == f"width=- style={content}px", (kind, widths)
    assert ("img " + IMAGE_URL, f"width={content}") in ours
