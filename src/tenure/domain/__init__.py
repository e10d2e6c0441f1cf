"""The pure core: entities, claims and the activation decision. No I/O, no frameworks."""
