"""The reference device agent: what firmware does, as a Python library and CLI.

It keeps a *persistent block* that survives factory resets (identity, device key,
pinned server keys, last verified record) and *user data* that a reset wipes
(the signed-in account's session). An agent is built from those parts and an
`httpx.Client` (see `DeviceAgent`); `DeviceAgent.init`/`load` keep them in a directory.
"""

from .block import Block, DirectoryBlock, MemoryBlock
from .device import DeviceAgent, Identity, ProtocolError, RecordRejected

__all__ = ["Block", "DeviceAgent", "DirectoryBlock", "Identity", "MemoryBlock",
           "ProtocolError", "RecordRejected"]
