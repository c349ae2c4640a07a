"""Vendors: one package per vendor, what they share, and the one registry."""
