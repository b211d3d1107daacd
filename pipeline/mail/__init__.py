"""The message: compose (per reader, RFC 8058 headers), dkim, the pre-flight check, the preview."""
