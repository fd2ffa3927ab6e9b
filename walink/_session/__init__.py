"""Private modules of ``walink.session`` (import from ``walink.session``)."""
