"""The protobuf messages of the connection lifecycle (``wa.proto``), generated and committed.

``from walink.protocol.proto import wa_pb2``. Regenerate with ``make proto``.
"""
