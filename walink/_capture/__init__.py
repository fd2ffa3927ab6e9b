"""Private modules of ``walink.capture`` (format, node JSON, writer, replay)."""
