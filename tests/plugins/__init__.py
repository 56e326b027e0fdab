"""Tiny plugins the core's tests load, as modules or through a real entry point."""
