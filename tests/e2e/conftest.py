"""Fixtures that run the real gateway and real mock providers over loopback HTTP."""

from __future__ import annotations

import asyncio
import compileall
import hashlib
from collections.abc import Generator, Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.guarded_gateway import running_scripted_upstream, write_guarded_config
from tests.e2e.mock_provider_direct import MockServer, running_mock_servers
from tests.procs import REPO, STARTED, Proc, start_gateway, start_mock_provider

PROVIDER_SECRET = "prov-secret-7f3a9c1e5b2d4a6f8e0c"
GATEWAY_KEY = "sk-test-gateway-key"
LIMITED_KEY = "sk-test-limited-key"


# How much of each process's output a failing test's report shows.
OUTPUT_LINES_SHOWN = 40


@pytest.fixture(scope="session", autouse=True)
def gateway_bytecode() -> None:
    """The gateway's modules compiled once, before the first process starts. Where
    PYTHONDONTWRITEBYTECODE is set (this machine, the Dockerfile) an import never writes the
    compiled module, and each of the suite's ~200 gateway starts compiled its ~300 modules from
    source: 0.42 s of imports instead of 0.27 s here. The children read what is written here
    (`__pycache__/`, ignored by git); a module newer than its compiled copy is compiled again."""
    compileall.compile_dir(REPO / "gateway", quiet=1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    STARTED.clear()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report ends with what the processes it started printed last (the
    supervisor's and workers' logs say why a worker was not replaced, a reload refused...)."""
    report = yield
    if report.failed:
        for proc in STARTED:
            args = proc.process.args
            command = " ".join(map(str, args[3:])) if isinstance(args, list) else str(args)
            tail = "".join(proc.output[-OUTPUT_LINES_SHOWN:])
            report.sections.append((f"output of `gateway {command}`", tail))
    return report


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def gateway_config(upstream: str, slow_upstream: str, log_path: Path) -> str:
    """A config serving every pairing of client and upstream format, plus fault models."""
    return f"""
[server]
host = "127.0.0.1"
port = 8080
max_body_bytes = 65536

[logging]
path = "{log_path}"

[[providers]]
name = "oai"
type = "openai"
base_url = "{upstream}/v1"
api_key_env = "TEST_PROVIDER_KEY"

[[providers]]
name = "ant"
type = "anthropic"
base_url = "{upstream}"
api_key_env = "TEST_PROVIDER_KEY"

[[providers]]
name = "slow"
type = "openai"
base_url = "{slow_upstream}/v1"

[[providers]]
name = "inproc"
type = "mock"

[[models]]
name = "gpt-mock"
[[models.deployments]]
provider = "oai"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[models]]
name = "echo"
[[models.deployments]]
provider = "oai"
model = "echo"

[[models]]
name = "claude-mock"
[[models.deployments]]
provider = "ant"
model = "mock-small"

[[models]]
name = "claude-echo"
[[models.deployments]]
provider = "ant"
model = "echo"

[[models]]
name = "claude-context"
[[models.deployments]]
provider = "ant"
model = "fail-400-context"

[[models]]
name = "gpt-context"
[[models.deployments]]
provider = "oai"
model = "fail-400-context"

[[models]]
name = "small-window"
[[models.deployments]]
provider = "oai"
model = "mock-small"
context_window = 50

[[models]]
name = "inproc-mock"
[[models.deployments]]
provider = "inproc"
model = "mock-small"

[[models]]
name = "fail"
[[models.deployments]]
provider = "oai"
model = "fail-500"

[[models]]
name = "drop"
[[models.deployments]]
provider = "oai"
model = "drop-mid-stream"

[[models]]
name = "malformed"
[[models.deployments]]
provider = "oai"
model = "malformed"

[[models]]
name = "slow-stream"
[[models.deployments]]
provider = "slow"
model = "mock-small"

[[models]]
name = "embed"
[[models.deployments]]
provider = "oai"
model = "mock-embed"
context_window = 8191

[[keys]]
id = "test"
team = "qa"
key_sha256 = "{_sha(GATEWAY_KEY)}"

[[keys]]
id = "limited"
team = "qa"
key_sha256 = "{_sha(LIMITED_KEY)}"
models = ["gpt-mock"]
"""


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def slow_upstream() -> Iterator[Proc]:
    proc = start_mock_provider(tokens_per_s=20)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc, slow_upstream: Proc
) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("gateway")
    log_path = root / "logs" / "requests.jsonl"
    config = root / "config.toml"
    config.write_text(gateway_config(mock_upstream.url, slow_upstream.url, log_path))
    proc = start_gateway(config, env={"TEST_PROVIDER_KEY": PROVIDER_SECRET})
    proc.log_path = log_path
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def claude(gateway: Proc) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK pointed at the suite's gateway (closed at the end: its connections are
    sockets)."""
    with anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def oai(gateway: Proc) -> Iterator[openai.OpenAI]:
    """The openai SDK pointed at the suite's gateway."""
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as client:
        yield client


# Shared by the test_guardrails_*.py files and by the test_mock_provider_*.py files: each set is
# started once for its files (package scope: stopped when the e2e tests end, not the session).


@pytest.fixture(scope="package")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc, slow_upstream: Proc
) -> Iterator[Proc]:
    """A gateway with one guardrail policy per key (guarded_gateway.py), over the suite's mock
    providers and a scripted upstream; its request log at `log_path`."""
    root = tmp_path_factory.mktemp("guarded")
    log_path = root / "records.jsonl"
    with running_scripted_upstream() as scripted:
        base = gateway_config(mock_upstream.url, slow_upstream.url, log_path)
        config = write_guarded_config(root, base, slow_upstream.url, scripted)
        # Room for loading presidio and scikit-learn (~5 s) before the gateway is ready.
        proc = start_gateway(config, env={"TEST_PROVIDER_KEY": PROVIDER_SECRET}, ready_timeout_s=60)
        proc.log_path = log_path
        yield proc
        proc.stop()


@pytest.fixture(scope="package")
def mock_servers() -> Iterator[tuple[MockServer, MockServer]]:
    """Two mock providers started directly (mock_provider_direct.py): unpaced, and 20 tokens/s."""
    with running_mock_servers() as servers:
        yield servers


@pytest.fixture(scope="package")
def mock(mock_servers: tuple[MockServer, MockServer]) -> MockServer:
    return mock_servers[0]


@pytest.fixture(scope="package")
def slow_mock(mock_servers: tuple[MockServer, MockServer]) -> MockServer:
    return mock_servers[1]


@pytest.fixture(scope="module")
def litellm_loop() -> Iterator[None]:
    """The main thread's event loop for the LiteLLM SDK's blocking calls, closed at the end:
    they hand their service logs to `asyncio.get_event_loop()`, which makes one when there is
    none and which nothing closes (a ResourceWarning, an error here, once an async test has
    replaced it)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()
