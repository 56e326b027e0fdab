"""A plugin with a typo in its hook name: the gateway must refuse to boot with it."""

from gateway_core import hookimpl


@hookimpl
def gateway_register_provider(providers) -> None:  # missing "s"
    raise AssertionError("never called")
