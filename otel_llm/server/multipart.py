"""`multipart/form-data` bodies (LangSmith's `/runs/multipart`) as a list of parts.

The parsing itself is python-multipart's (the parser Starlette uses); this module only
collects each part's name, content type and bytes, which Starlette's form API would
decode as text.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


@dataclass(frozen=True, slots=True)
class Part:
    """One part: its form name, its Content-Type and its bytes."""

    name: str
    content_type: str
    data: bytes


class MultipartError(ValueError):
    """A body that is not well-formed multipart/form-data; the message says why."""


def boundary_of(content_type: str) -> bytes:
    """The boundary of a `multipart/form-data; boundary=...` content type.

    Raises:
        MultipartError: for another content type or a missing boundary.
    """
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise MultipartError(f"Content-Type must be multipart/form-data, got {content_type!r}")
    boundary = options.get(b"boundary")
    if not boundary:
        raise MultipartError("Content-Type multipart/form-data has no boundary")
    return boundary


def parse_parts(body: bytes, boundary: bytes) -> list[Part]:
    """Every part of `body`, in order.

    Raises:
        MultipartError: for a malformed body (truncated, bad headers, no name).
    """
    parts: list[Part] = []
    headers: dict[bytes, bytes] = {}
    field: list[bytes] = []
    value: list[bytes] = []
    data: list[bytes] = []

    def on_part_begin() -> None:
        headers.clear()
        data.clear()

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        field.append(buf[start:end])

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        value.append(buf[start:end])

    def on_header_end() -> None:
        headers[b"".join(field).lower()] = b"".join(value)
        field.clear()
        value.clear()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        data.append(buf[start:end])

    def on_part_end() -> None:
        _, options = parse_options_header(headers.get(b"content-disposition"))
        name = options.get(b"name")
        if name is None:
            raise MultipartError(f"part #{len(parts) + 1} has no name in Content-Disposition")
        content_type = headers.get(b"content-type", b"application/octet-stream")
        parts.append(Part(name.decode("utf-8", "replace"),
                          content_type.decode("latin-1"), b"".join(data)))

    ended: list[bool] = []
    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_end": lambda: ended.append(True),
    }, max_header_count=16)
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise MultipartError(f"malformed multipart body: {exc}") from None
    if not ended:
        raise MultipartError("the multipart body ends before its closing boundary")
    return parts
