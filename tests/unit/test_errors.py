import json

from gateway.errors import AuthenticationError, NotFound, UpstreamRejected, unexpected


def test_openai_shape() -> None:
    body = json.loads(
        NotFound("no such model", param="model", code="model_not_found").body("openai")
    )
    assert body == {
        "error": {
            "message": "no such model",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_anthropic_shape() -> None:
    body = json.loads(AuthenticationError("invalid API key").body("anthropic"))
    assert body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid API key"},
    }


def test_upstream_429_keeps_status_and_kind() -> None:
    error = UpstreamRejected(429, "slow down")
    assert error.status == 429 and error.kind == "rate_limit_exceeded"
    assert json.loads(error.body("anthropic"))["error"]["type"] == "rate_limit_error"


def test_a_status_anthropic_has_no_name_for_is_typed_by_its_class() -> None:
    def kind(status: int) -> object:
        return json.loads(UpstreamRejected(status, "x").body("anthropic"))["error"]["type"]

    assert (kind(422), kind(418), kind(409)) == ("invalid_request_error",) * 3
    assert (kind(500), kind(501)) == ("api_error", "api_error")


def test_unexpected_errors_hide_details() -> None:
    error = unexpected(RuntimeError("secret internals"))
    assert error.status == 500 and "secret internals" not in error.body("openai").decode()


def test_with_headers_copies_and_leaves_the_original_alone() -> None:
    error = UpstreamRejected(429, "slow down", code="insufficient_quota")
    copy = error.with_headers({"retry-after": "3"})
    assert copy.headers == {"retry-after": "3"} and error.headers == {}
    assert (copy.status, copy.code, copy.message, str(copy)) == (
        429,
        "insufficient_quota",
        "slow down",
        "slow down",
    )
