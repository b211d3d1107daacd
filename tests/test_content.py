"""HTML from outside: the nh3 allow-list, URL resolution, tracking pixels, text and excerpts."""

from __future__ import annotations

from pipeline.htmltext import (
    clip,
    fragment_text,
    html_to_text,
    is_https_url,
    make_excerpt,
    plain_text,
    sanitize_html,
    strip_markup,
    title_from_text,
)


def test_active_content_never_survives():
    dirty = ('<div onclick="steal()"><script>alert(1)</script><iframe src="https://x.test/">'
             '</iframe><p style="color:red" onmouseover="x()">Hi <a href="javascript:alert(1)">'
             'link</a> <a href=" JAVASCRIPT:alert(1)">two</a> <img src="x.png" onerror="x()">'
             '<svg onload="x()"><circle/></svg><form action="/"><input></form>'
             '<a href="data:text/html,hi">data</a></p></div>')
    clean = sanitize_html(dirty, "https://example.com/feed")
    lowered = clean.lower()
    for bad in ("<script", "<iframe", "onclick", "onmouseover", "onerror", "onload",
                "javascript:", "<svg", "<form", "<input", "style=", "data:", "alert(1)"):
        assert bad not in lowered, bad
    assert '<img src="https://example.com/x.png">' in clean
    assert clean.count("<a ") == 3 and 'rel="noopener noreferrer"' in clean


def test_relative_urls_resolved_against_the_base():
    clean = sanitize_html('<a href="/a">a</a> <a href="b?x=1">b</a> <a href="#top">c</a>'
                          '<img src="//cdn.example.com/i.png">'
                          ' <a href="mailto:x@example.com">m</a>',
                          "https://example.com/blog/post/")
    assert 'href="https://example.com/a"' in clean
    assert 'href="https://example.com/blog/post/b?x=1"' in clean
    assert 'href="https://example.com/blog/post/#top"' in clean
    assert 'src="https://cdn.example.com/i.png"' in clean
    assert 'href="mailto:x@example.com"' in clean
    # Without a base a relative URL cannot be made absolute: it is dropped, the text stays.
    assert sanitize_html('<a href="/a">text</a>') == "<a rel=\"noopener noreferrer\">text</a>"


def test_tracking_pixels_are_dropped():
    html = ('<p>Text</p>'
            '<img src="https://medium.com/_/stat?event=post.clientViewed&amp;postId=1" width="1"'
            ' height="1">'
            '<img src="http://feeds.feedburner.com/~r/braingle/newteasers/~4/orRnfLWBRNc">'
            '<img src="https://example.com/open.gif" width="0" height="0">'
            '<img src="https://example.com/spacer.png" width="1px">'
            '<img src="data:image/gif;base64,R0lGOD">'
            '<img src="https://example.com/photo.jpg" width="640" height="480" alt="Photo">')
    clean = sanitize_html(html)
    assert clean.count("<img") == 1
    assert 'src="https://example.com/photo.jpg"' in clean


def test_text_decodes_entities_keeps_paragraphs_drops_captions():
    html = ("<h2>Title &amp; more</h2><p>First&nbsp;para &lt;tag&gt; &#8217;quoted&#8217;</p>"
            "<figure><img src='https://x.test/a.png'><figcaption>A caption</figcaption></figure>"
            "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
            '<p>Ends <a href="https://x.test/">here</a>.</p>')
    text = fragment_text(html)
    assert text == ("Title & more\n\nFirst para <tag> ’quoted’\n\none\n\ntwo\n\na b\n\n"
                    "Ends here.")
    assert "caption" not in text
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text('<img alt="a > b" src="https://x.test/"> after') == "after"


def test_excerpt_cuts_at_a_sentence_within_the_budget():
    text = ("Product managers decide what to build. They talk to users every week, and they "
            "write things down. Then they ship, measure and learn from what happened next time.")
    assert make_excerpt(text, 20) == ("Product managers decide what to build. They talk to users "
                                      "every week, and they write things down.")
    assert make_excerpt(text, 100) == text
    # No sentence end in the budget: a word boundary and an ellipsis, never mid-word.
    long = "word " * 30 + "end."
    assert make_excerpt(long, 10) == ("word " * 10).strip() + "…"
    # Abbreviations and initials do not end a sentence.
    abbrev = ("See e.g. the guide by J. Doe on interviews and hiring for your first product role "
              "today. More text follows here")
    assert make_excerpt(abbrev, 19) == ("See e.g. the guide by J. Doe on interviews and hiring "
                                        "for your first product role today.")
    assert make_excerpt("Dr. Who said hi. Then left quickly without a word to anyone", 6) == \
        "Dr. Who said hi."


def test_title_from_text_and_clip():
    assert title_from_text("Good morning Internet guzzlers! 🍺") == \
        "Good morning Internet guzzlers!"
    assert title_from_text("") == "Untitled"
    assert title_from_text("one two three four five six seven eight nine ten eleven twelve "
                           "thirteen fourteen") == ("one two three four five six seven eight "
                                                    "nine ten eleven twelve…")
    assert clip("a" * 10, 20) == "a" * 10
    assert clip("alpha beta gamma delta", 12) == "alpha beta…"


def test_is_https_url():
    assert is_https_url("https://example.com/a.png")
    assert not is_https_url("http://example.com/a.png")
    assert not is_https_url("https:///nohost")
    assert not is_https_url("//example.com/a.png")
    assert not is_https_url(None)


def test_plain_text_has_no_markup_even_after_decoding():
    # Escaped once, twice, or left unclosed: still no tag once the entities are decoded.
    assert plain_text("<p>Pay &lt;b&gt;bands&lt;/b&gt; &amp; equity</p>") == "Pay bands & equity"
    assert plain_text("<p>A &lt;script&gt;alert(1)&lt;/script&gt; B</p>") == "A B"
    assert plain_text("<p>Salaries &lt;iframe src=x</p>") == "Salaries"
    assert strip_markup("x <b>y</b> &lt;i&gt;z") == "x y z"  # each round decodes a level
    # Comparisons are prose, not markup.
    assert plain_text("<p>Offers &lt; 100k &amp; 3 &gt; 2</p>") == "Offers < 100k & 3 > 2"
