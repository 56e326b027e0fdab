"""The Azure OpenAI adapter: the built-in OpenAI-compatible adapter with Azure's URLs, sign-in,
stream clean-up and error details.

Request bodies and non-streaming responses are relayed as bytes, as the parent does; Azure's
extra response keys (``prompt_filter_results``, ``content_filter_results``) are left in place,
since OpenAI clients ignore keys they do not know.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from gateway_azure.config import AzureConfig
from gateway_azure.entra import EntraIdAuth
from gateway_azure.errors import AzureError, read_azure_error
from gateway_azure.events import AzureStreamCleaner
from gateway_core.api import GatewayError, InvalidRequest, ProviderCall, UpstreamResponse
from gateway_core.builtins.openai_provider import OpenAIAdapter, map_openai_style_error
from gateway_core.http import parse_retry_after


class AzureAdapter(OpenAIAdapter):
    """One Azure OpenAI deployment, addressed by its deployment path or the v1 API."""

    type_name = "azure"
    config_model = AzureConfig
    config: AzureConfig

    def model_name(self, config: AzureConfig) -> str:
        # Only the v1 API reads it, and there it must name the deployment.
        return config.deployment

    def url_for(self, path: str) -> str:
        config = self.config
        if config.url_style == "v1":
            return f"{config.endpoint}/openai/v1/{path}"
        return (
            f"{config.endpoint}/openai/deployments/{config.deployment}/{path}"
            f"?api-version={config.api_version}"
        )

    def build_headers(self, config: AzureConfig) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key is not None:
            headers["api-key"] = config.api_key.get_secret_value()
        return headers

    def build_auth(self, config: AzureConfig) -> httpx.Auth | None:
        if config.entra_id is None:
            return None
        context = self.context
        return EntraIdAuth(config.entra_id, context.http, context.timeouts, context.deployment_id)

    def request_body(self, call: ProviderCall) -> bytes:
        if self.config.url_style == "deployments":
            return call.raw_body  # the deployment is in the URL; Azure ignores the body's model
        return super().request_body(call)

    def stream_filter(self, call: ProviderCall) -> Callable[[bytes], bytes]:
        return AzureStreamCleaner(f"chatcmpl-{call.request_id}", call.public_model)

    def map_error(self, response: UpstreamResponse, body: bytes) -> GatewayError:
        error = read_azure_error(body)
        if 400 <= response.status < 500 and error.is_content_filter:
            return _content_filtered(error)
        retry_after = None
        if response.status == 429:
            retry_after = parse_retry_after(response.headers)
            if retry_after is None:
                retry_after = error.retry_after()
        return map_openai_style_error(
            response.status,
            body,
            response.headers,
            self.context.deployment_id,
            fields=(error.message, error.code, error.param),
            retry_after=retry_after,
        )


def _content_filtered(error: AzureError) -> InvalidRequest:
    message = error.message or "The prompt was blocked by Azure OpenAI's content filter."
    categories = error.filtered_categories()
    if categories:
        message = f"{message} Filtered categories: {', '.join(categories)}."
    return InvalidRequest(message, code="content_filter", param=error.param, status=400)
