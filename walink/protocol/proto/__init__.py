"""The protobuf messages walink speaks, generated from the ``.proto`` files beside this module.

``wa_pb2``: the connection lifecycle (``wa.proto``: Noise handshake, certificates, ClientPayload,
DeviceProps, ADV identities). ``e2e_pb2``: the end-to-end messages (``e2e.proto``: ``Message``,
``WebMessageInfo``, ``HistorySync`` and what they contain). ``from walink.protocol.proto import
e2e_pb2, wa_pb2``. Regenerate with ``make proto``.
"""
