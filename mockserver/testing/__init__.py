"""Testing: the mock on a live socket, and the pytest plugin."""
