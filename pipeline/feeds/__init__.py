"""Feeds in: fetch (bounded, conditional, deadline-aware), parse (feedparser, JSON Feed, repairs),
items → entries, dates; what is remembered between runs (cache)."""
