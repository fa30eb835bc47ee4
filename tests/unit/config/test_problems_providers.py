"""gateway.config.load: problems in [[providers]], with exact lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.problems import BASE, problems


def test_provider_problems(tmp_path: Path) -> None:
    text = BASE + (
        "[[providers]]\n"  # 10
        'name = "oai"\n'  # 11
        'type = "openai"\n'  # 12
        'api_key_env = "OPENAI_API_KEY"\n'  # 13
        "[[providers]]\n"  # 14
        'name = "ant"\n'  # 15
        'type = "anthropic"\n'  # 16
        'base_url = "api.anthropic.com"\n'  # 17
        "[[providers]]\n"  # 18
        'name = "mock"\n'  # 19
        'type = "mock"\n'  # 20
        "[[providers]]\n"  # 21
        'name = "x"\n'  # 22
        'type = "bedrock"\n'  # 23
        "[[providers]]\n"  # 24
        'type = "mock"\n'  # 25
    )
    assert problems(tmp_path, text) == [
        "config.toml:10: provider 'oai': base_url is required for type 'openai'",
        "config.toml:13: provider 'oai': environment variable OPENAI_API_KEY is not set",
        "config.toml:17: provider 'ant': base_url must start with http:// or https://",
        "config.toml:19: duplicate provider name 'mock'",
        "config.toml:23: providers[4].type: must be one of 'openai', 'anthropic', 'azure', "
        "'mock', got 'bedrock'",
        "config.toml:24: missing key 'name' in [[providers]][5]",
    ]


def test_provider_env_var_set_but_empty(tmp_path: Path) -> None:
    text = (
        BASE
        + '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        + 'api_key_env = "K"\n'
    )
    assert problems(tmp_path, text, env={"K": ""}) == [
        "config.toml:14: provider 'o': environment variable K is empty"
    ]
    assert problems(tmp_path, text, env={"K": "v"}) == []


def test_responses_flag_is_for_openai_type_providers(tmp_path: Path) -> None:
    text = (
        BASE
        + '[[providers]]\nname = "a"\ntype = "anthropic"\nbase_url = "http://h"\n'
        + "responses = true\n"
    )
    assert problems(tmp_path, text) == [
        "config.toml:14: provider 'a': responses applies to types 'openai', 'azure' and 'mock' only"
    ]


def test_azures_responses_api_needs_an_api_version_that_has_it(tmp_path: Path) -> None:
    def azure(version: str, query: str = "") -> str:
        text = '[[providers]]\nname = "z"\ntype = "azure"\nbase_url = "http://h"\n'
        return BASE + text + f'api_version = "{version}"\nresponses = true\n{query}'

    assert problems(tmp_path, azure("2024-10-21")) == [
        "config.toml:15: provider 'z': Azure's Responses API needs an api_version of "
        "2025-03-01-preview or later (this one is '2024-10-21')"
    ]
    assert problems(tmp_path, azure("2025-03-01-preview")) == []
    assert problems(tmp_path, azure("2025-04-01-preview")) == []
    # A `query` naming api-version is the one sent.
    newer = 'query = { api-version = "2025-04-01-preview" }\n'
    assert problems(tmp_path, azure("2024-10-21", newer)) == []


@pytest.mark.parametrize(
    "setting", ["stream_usage = false", "reasoning_content = true", "thought_signatures = true"]
)
def test_stream_usage_and_reasoning_content_are_for_openai_and_azure_providers(
    tmp_path: Path, setting: str
) -> None:
    text = (
        BASE
        + '[[providers]]\nname = "a"\ntype = "anthropic"\nbase_url = "http://h"\n'
        + f"{setting}\n"
    )
    name = setting.split(" ")[0]
    assert problems(tmp_path, text) == [
        f"config.toml:14: provider 'a': {name} applies to types 'openai' and 'azure' only"
    ]
    azure = '[[providers]]\nname = "z"\ntype = "azure"\nbase_url = "http://h"\n'
    azure += 'api_version = "2024-06-01"\nstream_usage = false\n'
    assert problems(tmp_path, BASE + azure) == []


def test_an_azure_base_url_is_the_resource_endpoint(tmp_path: Path) -> None:
    def azure(base_url: str) -> str:
        return (
            BASE
            + f'[[providers]]\nname = "z"\ntype = "azure"\nbase_url = "{base_url}"\n'
            + 'api_version = "2024-10-21"\n'
        )

    resource = "https://r.openai.azure.com"
    for wrong in ("/openai/v1/", "/openai", "/openai/deployments/gpt4o?api-version=2024-06-01"):
        (problem,) = problems(tmp_path, azure(resource + wrong))
        assert problem.startswith("config.toml:13: provider 'z': base_url for type 'azure' is")
        assert "use type 'openai'" in problem
    for right in (resource, resource + "/", "https://apim.example.com/team-a"):
        assert problems(tmp_path, azure(right)) == []


def test_azure_and_network_problems(tmp_path: Path) -> None:
    (tmp_path / "not-a-ca.pem").write_text("nonsense")
    text = BASE + (
        "[[providers]]\n"  # 10
        'name = "az"\n'  # 11
        'type = "azure"\n'  # 12
        'base_url = "https://r.openai.azure.com"\n'  # 13
        'transport = "http1"\n'  # 14
        'proxy = "https://proxy:3128"\n'  # 15
        'ca_file = "not-a-ca.pem"\n'  # 16
        'client_key = "missing.key"\n'  # 17
        'headers = { Host = "x", "x-ok" = "1", "x-bad" = 2 }\n'  # 18
        "[[providers]]\n"  # 19
        'name = "oai"\n'  # 20
        'type = "openai"\n'  # 21
        'base_url = "https://api.openai.com/v1"\n'  # 22
        'deployment = "d"\n'  # 23
        'proxy = "socks5://p:1080"\n'  # 24
    )
    assert problems(tmp_path, text) == [
        "config.toml:10: provider 'az': api_version is required for type 'azure'",
        "config.toml:15: provider 'az': transport 'http1' reaches only an http:// proxy; "
        "use transport 'httpx' or 'auto'",
        "config.toml:16: provider 'az': cannot load ca_file not-a-ca.pem: "
        "NO_CERTIFICATE_OR_CRL_FOUND",
        "config.toml:17: provider 'az': client_key needs client_cert",
        "config.toml:18: providers[1].headers.x-bad: expected string, got integer",
        "config.toml:23: provider 'oai': deployment is only for type 'azure'",
        "config.toml:24: provider 'oai': proxy must start with http:// or https://",
    ]


def test_headers_the_gateway_sets_are_refused(tmp_path: Path) -> None:
    text = BASE + (
        '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        'headers = { Host = "x", "x-ok" = "1" }\n'  # 14
    )
    assert problems(tmp_path, text) == [
        "config.toml:14: provider 'o': header 'Host' is set by the gateway"
    ]


def test_headers_no_client_can_send_are_refused(tmp_path: Path) -> None:
    """A non-ASCII value made every request a 500 (httpx encodes values as ASCII); a name
    that is no token was sent as a malformed header."""
    text = BASE + (
        '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        'headers = { "X-Team" = "\u00e9quipe" }\n'  # 14
        'query = { t = "1" }\n'
        '[[providers]]\nname = "p"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        'headers = { "X Team" = "a", "" = "b", "x-ok" = "a b\\t!~" }\n'  # 20
    )
    assert problems(tmp_path, text) == [
        "config.toml:14: provider 'o': header 'X-Team' value may only hold visible ASCII, "
        "spaces and tabs",
        "config.toml:20: provider 'p': header name 'X Team' is not an HTTP token "
        "(letters, digits and !#$%&'*+-.^_`|~)",
        "config.toml:20: provider 'p': header name '' is not an HTTP token "
        "(letters, digits and !#$%&'*+-.^_`|~)",
    ]


def test_secret_headers_are_refused_like_headers_and_keys(tmp_path: Path) -> None:
    """`headers_env` names follow `headers`' rules, a name may not be in both, and each
    variable is required like `api_key_env`; a value no header may hold is refused without
    being shown."""
    text = BASE + (
        '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'  # 10-13
        'headers = { "X-Team" = "a", "x-org" = "b" }\n'  # 14
        "[providers.headers_env]\n"  # 15
        '"Ocp-Apim-Subscription-Key" = "APIM_KEY"\n'  # 16
        'Host = "APIM_KEY"\n'  # 17
        '"X Key" = "APIM_KEY"\n'  # 18
        '"X-ORG" = "APIM_KEY"\n'  # 19
        '"x-unset" = "UNSET_KEY"\n'  # 20
        '"x-empty" = "EMPTY_KEY"\n'  # 21
        '"x-pasted" = "sk-live-0123456789abcdef"\n'  # 22
        '"x-bad" = "BAD_KEY"\n'  # 23
    )
    env = {"APIM_KEY": "apim-0123", "EMPTY_KEY": "", "BAD_KEY": "caf\u00e9\nsecret"}
    assert problems(tmp_path, text, env=env) == [
        "config.toml:17: provider 'o': header 'Host' is set by the gateway",
        "config.toml:18: provider 'o': header name 'X Key' is not an HTTP token "
        "(letters, digits and !#$%&'*+-.^_`|~)",
        "config.toml:19: provider 'o': header 'X-ORG' is in headers too",
        "config.toml:20: provider 'o': headers_env: environment variable UNSET_KEY is not set",
        "config.toml:21: provider 'o': headers_env: environment variable EMPTY_KEY is empty",
        "config.toml:22: provider 'o': headers_env: x-pasted must name an environment variable "
        "(letters, digits and '_'), which holds the secret; the value is not shown, as it may "
        "be the secret itself, and `${NAME}` is not expanded",
        "config.toml:23: provider 'o': headers_env: environment variable BAD_KEY value may "
        "only hold visible ASCII, spaces and tabs",
    ]
    assert problems(tmp_path, text.split("Host")[0], env=env) == []


def test_a_proxy_password_from_the_environment_needs_a_proxy_without_one(tmp_path: Path) -> None:
    provider = '[[providers]]\nname = "{name}"\ntype = "openai"\nbase_url = "http://h/v1"\n'
    text = BASE + (
        provider.format(name="none")  # 10-13
        + 'proxy_password_env = "PROXY_PW"\n'  # 14
        + provider.format(name="both")  # 15-18
        + 'proxy = "http://gw:inline@proxy:3128"\nproxy_password_env = "PROXY_PW"\n'  # 19-20
        + provider.format(name="unset")  # 21-24
        + 'proxy = "http://gw@proxy:3128"\nproxy_password_env = "UNSET_PW"\n'  # 25-26
        + provider.format(name="good")  # 27-30
        + 'proxy = "http://gw@proxy:3128"\nproxy_password_env = "PROXY_PW"\n'
    )
    assert problems(tmp_path, text, env={"PROXY_PW": "pw"}) == [
        "config.toml:14: provider 'none': proxy_password_env needs proxy (the proxy's URL)",
        "config.toml:20: provider 'both': proxy holds a password and proxy_password_env names "
        "one: keep the password in the variable alone (the URL keeps the user: "
        "http://user@proxy:3128)",
        "config.toml:26: provider 'unset': environment variable UNSET_PW is not set",
    ]


def test_a_clean_azure_provider_with_network_options(tmp_path: Path) -> None:
    text = BASE + (
        '[[providers]]\nname = "az"\ntype = "azure"\nbase_url = "https://r.openai.azure.com"\n'
        'api_version = "2024-06-01"\ndeployment = "gpt4o"\ntransport = "httpx"\nhttp2 = true\n'
        'proxy = "http://proxy:3128"\nheaders = { "X-Team" = "a" }\nquery = { t = "1" }\n'
        "max_response_bytes = 1000\n"
    )
    assert problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://h:99999/v1", "has a port that is no number from 0 to 65535"),
        ("http://h:xx", "has a port that is no number from 0 to 65535"),
        ("http://user:SECRET", "has a port that is no number from 0 to 65535"),
        ("http://[::1/v1", "is not a valid URL (an unclosed '[')"),
        ("http://", "has no host"),
        ("https:///v1", "has no host"),
    ],
)
def test_base_url_and_proxy_a_client_cannot_reach(tmp_path: Path, url: str, problem: str) -> None:
    """Each passed check, then serve died at start building the upstream client (the URL is
    never quoted: it may carry credentials)."""
    text = BASE + (
        '[[providers]]\nname = "o"\ntype = "openai"\n'
        f'base_url = "{url}"\n'  # 13
        f'proxy = "{url}"\n'  # 14
    )
    assert problems(tmp_path, text) == [
        f"config.toml:13: provider 'o': base_url {problem}",
        f"config.toml:14: provider 'o': proxy {problem}",
    ]


def test_a_deployment_served_through_the_responses_api_needs_a_provider_with_it(
    tmp_path: Path,
) -> None:
    def deployment(provider: str) -> str:
        text = (
            '[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "http://h"\n'
            '[[providers]]\nname = "vllm"\ntype = "openai"\nbase_url = "http://h/v1"\n'
            "responses = false\n"
            '[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "http://h/v1"\n'
        )
        text += f'[[models]]\nname = "m2"\n[[models.deployments]]\nprovider = "{provider}"\n'
        return BASE + text + 'model = "x"\napi = "responses"\n'

    for provider in ("ant", "vllm"):
        [problem] = problems(tmp_path, deployment(provider))
        assert problem.endswith(
            "api 'responses' needs a provider that serves the Responses API "
            "(openai or azure type, not responses = false)"
        )
    assert problems(tmp_path, deployment("oai")) == []


def test_drop_params_names_fields_a_request_can_go_without(tmp_path: Path) -> None:
    provider = '[[providers]]\nname = "o"\ntype = "openai"\nbase_url = "http://h/v1"\n'
    ok = 'drop_params = ["prompt_cache_key", "stream_options.include_usage", "metadata"]\n'
    assert problems(tmp_path, BASE + provider + ok) == []
    bad = 'drop_params = ["model", "", "a..b", "stream"]\n'
    assert problems(tmp_path, BASE + provider + bad) == [
        "config.toml:14: provider 'o': drop_params 'model' cannot be left out: every request "
        "needs it",
        "config.toml:14: provider 'o': drop_params '' is not a field name: write `field` or "
        "`field.inner`",
        "config.toml:14: provider 'o': drop_params 'a..b' is not a field name: write `field` or "
        "`field.inner`",
        "config.toml:14: provider 'o': drop_params 'stream' cannot be left out: every request "
        "needs it",
    ]
