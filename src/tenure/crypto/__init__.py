"""JWS, key rings, device keys and password hashing. Shared by the server and the agent."""
