"""The ASGI app: one router per audience (device, account, admin, public)."""
