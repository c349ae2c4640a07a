"""Storage: what the mock remembers (records) and the stores that keep it."""
