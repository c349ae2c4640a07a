"""Contract tests: hold any server (the mock, or a real URL) and the client to the specs.

Importing the package loads nothing heavy: each name below is imported from its module on first
use (PEP 562), so that ``chatimg-contract`` can say in one line that the mock extra (hypothesis,
openapi-core, flask) is missing instead of failing on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.lazy_exports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "PROFILES": ".checks", "Check": ".checks", "all_checks": ".checks",
    "ContractViolation": ".server", "RequestCase": ".server", "check_operation": ".server",
    "SchemaResolver": ".strategies", "from_schema": ".strategies", "invalid_body": ".strategies",
    "Credentials": ".target", "Target": ".target",
}
__all__ = [
    "PROFILES", "Check", "ContractViolation", "Credentials", "RequestCase", "SchemaResolver",
    "Target", "all_checks", "check_operation", "from_schema", "invalid_body",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from .checks import PROFILES, Check, all_checks
    from .server import ContractViolation, RequestCase, check_operation
    from .strategies import SchemaResolver, from_schema, invalid_body
    from .target import Credentials, Target
