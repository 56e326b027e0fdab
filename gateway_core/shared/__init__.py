"""State shared by every worker and instance: Redis in production, in-process otherwise.

Both backends offer the same operations with the same meaning, so the code above them never
asks which one it has. The in-process backend reaches only the current process; a deployment
with several workers or instances and no Redis falls back to short cache lifetimes instead
(see ``docs/architecture.md``).
"""

from gateway_core.shared.base import SharedState
from gateway_core.shared.factory import build_shared_state
from gateway_core.shared.memory import InProcessState
from gateway_core.shared.redis_backend import RedisState

__all__ = ["InProcessState", "RedisState", "SharedState", "build_shared_state"]
