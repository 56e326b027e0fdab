"""Signing Vertex AI requests with Google OAuth access tokens (``Authorization: Bearer``).

The core's :class:`~gateway_core.tokens.TokenCache` keeps each deployment's token, refreshes it
ahead of expiry and lets one fetch run at a time; this package supplies the fetch for each way
of signing in.
"""
