"""OpenAI content parts (text, images, audio, files) as Gemini ``Part`` objects.

Images and files given inline (data URLs) become ``inlineData``. Images given by URL become
``fileData``, which Vertex fetches itself (``gs://`` objects, and public ``https`` URLs on
current models); the gateway never downloads a URL a caller names. ``fileData`` must state a
MIME type, taken from the URL's file name.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any
from urllib.parse import urlsplit

from gateway_core.api import InvalidRequest

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$", re.DOTALL)
AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}


def text_of(content: Any, where: str, *, allowed: frozenset[str] = frozenset({"text"})) -> str:
    """The text of a message whose content may only hold text (system, assistant, tool)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("Message content must be a string or an array.", param=where)
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise InvalidRequest(
                f"Only text content parts are allowed here, not {_named(kind)}.",
                param=f"{where}[{index}]",
            )
        value = part.get(kind)
        if not isinstance(value, str):
            raise InvalidRequest(
                f"The part's '{kind}' must be a string.", param=f"{where}[{index}]"
            )
        texts.append(value)
    return "".join(texts)


def user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """The Gemini parts of a user message's content."""
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise InvalidRequest("Message content must be a string or an array.", param=where)
    return [_part(part, f"{where}[{index}]") for index, part in enumerate(content)]


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return {"text": part["text"]}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str):
            return _image(url, f"{where}.image_url.url")
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        mime = AUDIO_TYPES.get(audio.get("format"))
        if mime is not None and isinstance(audio.get("data"), str):
            return {"inlineData": {"mimeType": mime, "data": audio["data"]}}
        raise InvalidRequest(
            "input_audio needs base64 'data' and a format of wav or mp3.", param=where
        )
    if kind == "file":
        return _file(part.get("file"), f"{where}.file")
    if kind in ("text", "image_url"):
        raise InvalidRequest(f"The {kind} part is malformed.", param=where)
    raise InvalidRequest(
        f"Vertex AI cannot read content parts of type {_named(kind)}.", param=where
    )


def _image(url: str, where: str) -> dict[str, Any]:
    inline = _DATA_URL.match(url)
    if inline:
        return {"inlineData": {"mimeType": inline.group(1), "data": inline.group(2)}}
    scheme = urlsplit(url).scheme
    if scheme not in ("gs", "http", "https"):
        raise InvalidRequest(
            "Give images as base64 data URLs, gs:// URIs or https URLs.", param=where
        )
    mime, _encoding = mimetypes.guess_type(urlsplit(url).path)
    if mime is None or not mime.startswith("image/"):
        raise InvalidRequest(
            "Vertex AI needs the image's type: use a URL whose name ends in .png, .jpg, .webp "
            "(or another image extension), or send the image as a data URL.",
            param=where,
        )
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _file(file: Any, where: str) -> dict[str, Any]:
    data = file.get("file_data") if isinstance(file, dict) else None
    inline = _DATA_URL.match(data) if isinstance(data, str) else None
    if inline is None:
        raise InvalidRequest(
            "Vertex AI needs files inline: give 'file_data' as a base64 data URL (uploaded "
            "file ids are not supported).",
            param=where,
        )
    return {"inlineData": {"mimeType": inline.group(1), "data": inline.group(2)}}


def _named(kind: Any) -> str:
    return f"'{kind}'" if isinstance(kind, str) and kind.isidentifier() else "this type"
