"""The issue: assemble (pure: excerpts + entries + history → Issue), render (Jinja2 → MJML → HTML,
and text), links (UTM, link facts)."""
