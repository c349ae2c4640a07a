"""Media: every piece of image work, behind byte-in/byte-out functions."""
