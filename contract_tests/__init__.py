"""Contract tests: hold any server (the mock, or a real URL) and the client to the specs."""

from .checks import PROFILES, Check, all_checks
from .server import ContractViolation, RequestCase, check_operation
from .strategies import SchemaResolver, from_schema, invalid_body
from .target import Credentials, Target

__all__ = [
    "PROFILES", "Check", "ContractViolation", "Credentials", "RequestCase", "SchemaResolver",
    "Target", "all_checks", "check_operation", "from_schema", "invalid_body",
]
