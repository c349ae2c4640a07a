"""The wid instance API: getMsgImg."""
