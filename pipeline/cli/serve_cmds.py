"""The subscriber-facing web side (see pipeline/web)."""
