"""Small helpers the whole library may use (the bottom layer: imports nothing of trine)."""
