from gateway.upstream.base import UpstreamClient, UpstreamError, UpstreamRequest, UpstreamResponse

__all__ = ["UpstreamClient", "UpstreamError", "UpstreamRequest", "UpstreamResponse"]
