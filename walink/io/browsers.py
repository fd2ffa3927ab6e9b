"""``Browsers``: the (OS, browser, OS version) triples Baileys users know, for ``ClientConfig``.

The triple identifies the linked device on the phone ("Chrome (Mac OS)"): the OS and browser go
into the ClientPayload's DeviceProps; the OS version is sent nowhere (kept for parity with
Baileys' ``Browsers`` helper, whose values these are: Baileys 7.0.0-rc14 ``browser-utils``).
"""

from __future__ import annotations

import platform

__all__ = ["Browser", "Browsers"]

Browser = tuple[str, str, str]
"""(operating system, browser name, OS version)."""

# Baileys' PLATFORM_MAP for the operating systems Python's platform.system() names
_SYSTEMS: dict[str, str] = {
    "Darwin": "Mac OS",
    "Windows": "Windows",
    "AIX": "AIX",
    "FreeBSD": "FreeBSD",
    "OpenBSD": "OpenBSD",
    "SunOS": "Solaris",
}


class Browsers:
    """Ready-made browser triples: ``ClientConfig(browser=Browsers.ubuntu("My App"))``."""

    @staticmethod
    def ubuntu(browser: str) -> Browser:
        """``("Ubuntu", browser, "22.04.4")``."""
        return ("Ubuntu", browser, "22.04.4")

    @staticmethod
    def macos(browser: str) -> Browser:
        """``("Mac OS", browser, "14.4.1")`` (the default is ``Browsers.macos("Chrome")``)."""
        return ("Mac OS", browser, "14.4.1")

    macOS = macos  # Baileys' spelling, so migrating code reads the same

    @staticmethod
    def windows(browser: str) -> Browser:
        """``("Windows", browser, "10.0.22631")``."""
        return ("Windows", browser, "10.0.22631")

    @staticmethod
    def baileys(browser: str) -> Browser:
        """``("Baileys", browser, "6.5.0")``."""
        return ("Baileys", browser, "6.5.0")

    @staticmethod
    def appropriate(browser: str) -> Browser:
        """This machine's OS and release (``Ubuntu`` for Linux and unknown systems, as Baileys)."""
        return (_SYSTEMS.get(platform.system(), "Ubuntu"), browser, platform.release())
