"""The reference device agent: what firmware does, as a Python library and CLI.

It keeps a *persistent block* that survives factory resets (identity, device key,
pinned server keys, last verified record) and *user data* that a reset wipes
(the signed-in account's session).
"""

from .device import DeviceAgent, RecordRejected

__all__ = ["DeviceAgent", "RecordRejected"]
