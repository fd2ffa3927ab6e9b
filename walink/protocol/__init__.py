"""The sans-IO protocol core: bytes in, events out; commands in, bytes out.

Nothing in this package touches a socket, a clock or a global random source, and nothing here
imports any other part of walink.
"""
