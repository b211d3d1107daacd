"""PM Career Digest: fetch → parse → assemble → render → check → deliver → archive."""

__version__ = "0.1.0"
