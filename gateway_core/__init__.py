"""gateway-core: an OpenAI-compatible LLM gateway built from plugins.

Plugins import two things from here: ``hookimpl`` to mark their hook implementations, and
the types in :mod:`gateway_core.api`.
"""

import pluggy

__version__ = "0.1.0"

#: The one name shared by the pluggy project, the hook markers and the entry-point group.
PROJECT = "gateway_core"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["PROJECT", "__version__", "hookimpl", "hookspec"]
