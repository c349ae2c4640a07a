"""Admin: the mock's own routes (specs/admin.yaml)."""
