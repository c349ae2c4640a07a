"""Lark / Feishu: tenant token, image upload and download, events."""
