"""The upstream edge: how the gateway talks to providers (`base.py` draws the interface)."""

from gateway.upstream.base import (
    PreparedRequest,
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeouts,
    WholeResponse,
    request_of,
)
from gateway.upstream.fake import FakeReply, FakeUpstream

__all__ = [
    "FakeReply",
    "FakeUpstream",
    "PreparedRequest",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamRequest",
    "UpstreamResponse",
    "UpstreamTimeouts",
    "WholeResponse",
    "request_of",
]
