"""The outbound policy: what requests made for workflows may reach, and how much they read.

Real sockets on 127.0.0.1 (pytest-httpserver) for what connects; addresses that must be
refused before any connect (metadata, link-local) are checked without one. Names other
than ``localhost`` go through a resolver the test supplies.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tav.ai import AIConfig, AIServices
from tav.ai.http import ProviderHttp
from tav.app.headless import run_workflow
from tav.core.results import NodeResult
from tav.core.states import ExecutionStatus, NodeStatus
from tav.engine.executor import Executor
from tav.nodes.builtin import BUILTIN_NODE_TYPES
from tav.nodes.host import HostServices
from tav.nodes.outbound import (
    AllowRule,
    Listening,
    OutboundPolicy,
    OutboundRefused,
    OutboundSession,
    client,
)
from tav.nodes.outbound.connector import GuardedResolver
from tav.nodes.outbound.policy import IPAddress
from tav.nodes.registry import NodeRegistry
from tav.nodes.testing import TESTING_NODE_TYPES
from tav.services import ServiceConfig, build_services
from tav.settings import Settings
from tests.fakes.llm import FakeProviders
from tests.fakes.secrets import MemorySecrets
from tests.helpers import document, node, run, workflow
from tests.unit.ai.conftest import Ask
from tests.unit.ai.helpers import ask_flow, chain, chat_flow

MIB = 1024 * 1024
NO_WAIT = {"max_attempts": 3, "backoff_s": 0, "jitter": False}
PRIVATE_OFF = OutboundPolicy(allow_private=False)


@pytest.fixture
def httpserver(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    """A second fake server on 127.0.0.1, on another port."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def fixed_resolver(names: dict[str, str], calls: list[str] | None = None) -> Any:
    """A resolver that knows ``names`` only (and records what it was asked)."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if calls is not None:
            calls.append(host)
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(names[host])]

    return resolve


async def fetch(
    registry: NodeRegistry,
    url: str,
    *,
    policy: OutboundPolicy | None = None,
    session: OutboundSession | None = None,
    **params: Any,
) -> NodeResult:
    """Run one ``core.http_request``: through ``session`` if given, else through the
    session the node makes itself under ``policy`` (a host's ``OutboundPolicy`` service)."""
    services = HostServices(http_session=session, outbound=policy or OutboundPolicy())
    executor = Executor(registry, services=services)
    wf = workflow(
        node("start", "trigger.manual"),
        node(
            "call",
            "core.http_request",
            params={"url": url, "timeout_s": 2, **params},
            retry=NO_WAIT,
        ),
        links=("start -> call",),
    )
    return (await run(executor, wf)).nodes["call"]


def refused(result: NodeResult, message: str) -> None:
    assert result.status is NodeStatus.FAILED, result
    assert result.error is not None
    assert result.error.type == "outbound_refused", result.error
    assert result.error.message == message
    assert result.attempts == 1  # a user error: never retried


# -- always refused: no connect is needed to refuse them ------------------------------


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local/metadata"),
        ("http://169.254.170.2/v2/credentials", "169.254.170.2", "link-local/metadata"),
        ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254", "link-local/metadata"),
        ("http://100.100.100.200/latest/meta-data/", "100.100.100.200", "link-local/metadata"),
        ("http://[fe80::1]:8080/", "fe80::1", "link-local/metadata"),
        (
            "http://[::ffff:169.254.169.254]/",
            "::ffff:169.254.169.254 (169.254.169.254)",
            "link-local/metadata",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            "64:ff9b::a9fe:a9fe (169.254.169.254)",
            "link-local/metadata",
        ),
        ("http://0.0.0.0:8000/", "0.0.0.0", "unspecified"),
        ("http://[::]:8000/", "::", "unspecified"),
        ("http://224.0.0.1/", "224.0.0.1", "multicast"),
        ("http://255.255.255.255/", "255.255.255.255", "broadcast"),
        ("http://240.0.0.1/", "240.0.0.1", "reserved"),
    ],
)
async def test_link_local_metadata_and_special_addresses_are_always_refused(
    registry: NodeRegistry, url: str, address: str, kind: str
):
    # Private addresses allowed, and the address itself on the allow-list: still refused.
    policy = OutboundPolicy(allow=(AllowRule.parse(address.split()[0].join("[]")),))

    result = await fetch(registry, url, policy=policy)

    article = "an" if kind[0] in "aeiou" else "a"
    refused(
        result, f"GET {url}: refused by the outbound policy: {address} is {article} {kind} address"
    )


async def test_a_name_of_a_metadata_address_is_refused_without_a_second_lookup(
    registry: NodeRegistry,
):
    calls: list[str] = []
    names = {"metadata.google.internal": "169.254.169.254", "rebind.test": "169.254.169.254"}
    async with OutboundSession(OutboundPolicy(), resolver=fixed_resolver(names, calls)) as http:
        result = await fetch(registry, "http://rebind.test/computeMetadata/v1/", session=http)

    refused(
        result,
        "GET http://rebind.test/computeMetadata/v1/: refused by the outbound policy: "
        "rebind.test (169.254.169.254) is a link-local/metadata address",
    )
    assert calls == ["rebind.test"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.20",
        "100.64.0.1",
        "fc00::1",
        "fd12:3456::1",
        "198.18.0.1",
    ],
)
def test_private_and_loopback_addresses_follow_the_setting(address: str):
    ip = ipaddress.ip_address(address)

    assert OutboundPolicy().refusal(address, ip, 80) is None
    reason = PRIVATE_OFF.refusal(address, ip, 80)
    assert reason is not None
    assert "TAV_OUTBOUND_ALLOW_PRIVATE=false" in reason
    # Public addresses are allowed either way.
    assert PRIVATE_OFF.refusal("example.com", ipaddress.ip_address("93.184.215.14"), 80) is None


def test_allow_rules_name_hosts_addresses_ranges_and_ports():
    policy = replace(
        PRIVATE_OFF,
        allow=tuple(
            AllowRule.parse(rule)
            for rule in (
                "ollama.lan:11434",
                "*.home.arpa",
                "10.0.0.0/8",
                "[::1]:8123",
                "192.168.1.5",
            )
        ),
    )
    allowed = [
        ("ollama.lan", "192.168.1.9", 11434),
        ("hass.home.arpa", "192.168.1.7", 8123),
        ("x", "10.9.9.9", 1),
        ("::1", "::1", 8123),
        ("nas", "192.168.1.5", 445),
        ("nas", "::ffff:192.168.1.5", 445),
    ]
    refused = [
        ("ollama.lan", "192.168.1.9", 80),
        ("home.arpa.evil", "192.168.1.7", 8123),
        ("::1", "::1", 8124),
        ("nas", "192.168.1.6", 445),
    ]
    for host, address, port in allowed:
        assert policy.refusal(host, ipaddress.ip_address(address), port) is None, host
    for host, address, port in refused:
        assert policy.refusal(host, ipaddress.ip_address(address), port) is not None, host
    with pytest.raises(ValueError, match="is a URL"):
        AllowRule.parse("http://ollama.lan/")
    with pytest.raises(ValueError, match="is not a host name"):
        AllowRule.parse("ollama lan")
    with pytest.raises(ValueError, match="is not a port"):
        AllowRule.parse("ollama.lan:http")


def test_an_allow_rule_that_does_not_parse_is_a_settings_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TAV_OUTBOUND_ALLOW", "127.0.0.1:11434, http://ollama.lan/")

    with pytest.raises(ValidationError, match=r"'http://ollama\.lan/' is a URL"):
        Settings()
    monkeypatch.setenv("TAV_OUTBOUND_ALLOW", "127.0.0.1:11434, ollama.lan")
    assert Settings().outbound_allow == ["127.0.0.1:11434", "ollama.lan"]


def _local_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def test_the_servers_own_api_is_refused_on_every_address_it_listens_on():
    own = ipaddress.ip_address
    loopback = OutboundPolicy(listening=(Listening("127.0.0.1", 8000),))
    reopened = replace(loopback, allow_private=False, allow=(AllowRule.parse("127.0.0.1:8000"),))
    for policy in (loopback, reopened):
        for address in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
            reason = policy.refusal(address, own(address), 8000)
            assert reason is not None
            assert "own API" in reason, (policy, address)
    assert loopback.refusal("127.0.0.1", own("127.0.0.1"), 8001) is None
    wildcard = OutboundPolicy(listening=(Listening("0.0.0.0", 8000),))
    assert wildcard.refusal("192.0.2.1", own("192.0.2.1"), 8000) is None  # not this machine
    local = _local_address()
    if local is not None:
        assert wildcard.refusal(local, own(local), 8000) is not None
        assert loopback.refusal(local, own(local), 8000) is None
    lan = OutboundPolicy(listening=(Listening("192.0.2.7", 9000),))
    assert lan.refusal("192.0.2.7", own("192.0.2.7"), 9000) is not None


# -- against real sockets ------------------------------------------------------------


async def test_loopback_is_allowed_by_default_and_refused_with_the_setting(
    registry: NodeRegistry, httpserver: HTTPServer
):
    httpserver.expect_request("/status").respond_with_json({"ok": True})
    url = httpserver.url_for("/status")

    allowed = await fetch(registry, url)  # no policy supplied: the default one
    denied = await fetch(registry, url, policy=PRIVATE_OFF)

    assert allowed.status is NodeStatus.SUCCEEDED, allowed.error
    assert allowed.outputs["output"]["body"] == {"ok": True}
    refused(
        denied,
        f"GET {url}: refused by the outbound policy: 127.0.0.1 is a loopback address, and "
        "private addresses are refused (TAV_OUTBOUND_ALLOW_PRIVATE=false; "
        "TAV_OUTBOUND_ALLOW can allow this one)",
    )
    assert len(httpserver.log) == 1


async def test_localhost_resolves_to_loopback_and_is_refused_with_it(
    registry: NodeRegistry, httpserver: HTTPServer
):
    url = f"http://localhost:{httpserver.port}/status"

    result = await fetch(registry, url, policy=PRIVATE_OFF)

    assert result.error is not None
    assert result.error.type == "outbound_refused"
    assert f"GET {url}: refused by the outbound policy: localhost (" in result.error.message
    assert httpserver.log == []


async def test_an_allow_listed_host_and_port_is_reopened(
    registry: NodeRegistry, httpserver: HTTPServer, other_server: HTTPServer
):
    httpserver.expect_request("/api/tags").respond_with_json({"models": []})
    other_server.expect_request("/").respond_with_data("no")
    policy = replace(PRIVATE_OFF, allow=(AllowRule.parse(f"127.0.0.1:{httpserver.port}"),))

    allowed = await fetch(registry, httpserver.url_for("/api/tags"), policy=policy)
    other_port = await fetch(registry, other_server.url_for("/"), policy=policy)

    assert allowed.status is NodeStatus.SUCCEEDED, allowed.error
    assert other_port.error is not None
    assert other_port.error.type == "outbound_refused"
    assert other_server.log == []


async def test_a_name_is_resolved_once_and_the_checked_address_is_connected_to(
    registry: NodeRegistry, httpserver: HTTPServer
):
    """The connection goes to the address the policy judged: the name is not looked up
    again (here it could not be: only the test's resolver knows it)."""
    httpserver.expect_request("/x").respond_with_json({"host": "seen"})
    calls: list[str] = []
    resolver = fixed_resolver({"rebind.test": "127.0.0.1"}, calls)
    url = f"http://rebind.test:{httpserver.port}/x"

    async with OutboundSession(OutboundPolicy(), resolver=resolver) as http:
        allowed = await fetch(registry, url, session=http)
    async with OutboundSession(PRIVATE_OFF, resolver=resolver) as http:
        denied = await fetch(registry, url, session=http)

    assert allowed.status is NodeStatus.SUCCEEDED, allowed.error
    assert httpserver.log[0][0].headers["Host"] == f"rebind.test:{httpserver.port}"
    assert calls == ["rebind.test", "rebind.test"]  # once per client, for its one connect
    refused(
        denied,
        f"GET {url}: refused by the outbound policy: rebind.test (127.0.0.1) is a loopback "
        "address, and private addresses are refused (TAV_OUTBOUND_ALLOW_PRIVATE=false; "
        "TAV_OUTBOUND_ALLOW can allow this one)",
    )


async def test_every_redirect_hop_goes_through_the_policy(
    registry: NodeRegistry, httpserver: HTTPServer, other_server: HTTPServer
):
    httpserver.expect_request("/metadata").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/iam/"}
    )
    httpserver.expect_request("/inside").respond_with_data(
        "", status=307, headers={"Location": other_server.url_for("/admin")}
    )
    other_server.expect_request("/admin").respond_with_data("secret")
    reopened = replace(PRIVATE_OFF, allow=(AllowRule.parse(f"127.0.0.1:{httpserver.port}"),))

    to_metadata = await fetch(registry, httpserver.url_for("/metadata"))
    to_private = await fetch(registry, httpserver.url_for("/inside"), policy=reopened)

    refused(
        to_metadata,
        f"GET {httpserver.url_for('/metadata')}: refused by the outbound policy: "
        "169.254.169.254 is a link-local/metadata address",
    )
    assert to_private.error is not None
    assert to_private.error.type == "outbound_refused"
    assert "127.0.0.1 is a loopback address" in to_private.error.message
    assert other_server.log == []


async def test_a_name_a_redirect_leads_to_is_judged_when_it_is_resolved(
    registry: NodeRegistry, httpserver: HTTPServer, other_server: HTTPServer
):
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": f"http://inside.test:{other_server.port}/admin"}
    )
    other_server.expect_request("/admin").respond_with_data("secret")
    calls: list[str] = []
    resolver = fixed_resolver({"public.test": "127.0.0.1", "inside.test": "127.0.0.1"}, calls)
    policy = replace(PRIVATE_OFF, allow=(AllowRule.parse("public.test"),))
    url = f"http://public.test:{httpserver.port}/go"

    async with OutboundSession(policy, resolver=resolver) as session:
        result = await fetch(registry, url, session=session)

    refused(
        result,
        f"GET {url}: refused by the outbound policy: inside.test (127.0.0.1) is a loopback "
        "address, and private addresses are refused (TAV_OUTBOUND_ALLOW_PRIVATE=false; "
        "TAV_OUTBOUND_ALLOW can allow this one)",
    )
    assert calls == ["public.test", "inside.test"]
    assert len(httpserver.log) == 1
    assert other_server.log == []


async def test_a_dns_answer_is_cut_to_the_addresses_the_policy_allows():
    """What the session's connector may connect to: the allowed addresses of an answer
    only, in its order; none allowed refuses the connection, naming the first."""
    answer = {"mixed.test": ["10.1.2.3", "169.254.169.254", "93.184.215.14", "::1"]}

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(address) for address in answer[host]]

    default = await GuardedResolver(OutboundPolicy(), resolve).resolve("mixed.test", 443)
    private_off = await GuardedResolver(PRIVATE_OFF, resolve).resolve("mixed.test", 443)
    answer["mixed.test"] = ["192.168.1.9", "127.0.0.1"]
    with pytest.raises(OutboundRefused) as caught:
        await GuardedResolver(PRIVATE_OFF, resolve).resolve("mixed.test", 443)

    assert [(r["host"], r["port"]) for r in default] == [
        ("10.1.2.3", 443),
        ("93.184.215.14", 443),
        ("::1", 443),
    ]
    assert [r["family"] for r in default] == [socket.AF_INET, socket.AF_INET, socket.AF_INET6]
    assert [r["host"] for r in private_off] == ["93.184.215.14"]
    assert caught.value.reason.startswith("mixed.test (192.168.1.9) is a private address")


async def test_a_name_answering_a_refused_and_an_allowed_address_reaches_the_allowed_one(
    registry: NodeRegistry, httpserver: HTTPServer
):
    httpserver.expect_request("/x").respond_with_data("reached")

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("127.0.0.1")]

    async with OutboundSession(OutboundPolicy(), resolver=resolve) as session:
        result = await fetch(registry, f"http://mixed.test:{httpserver.port}/x", session=session)

    assert result.status is NodeStatus.SUCCEEDED, result.error
    assert result.outputs["output"]["body"] == "reached"


@pytest.mark.parametrize("host", ["127.1", "2130706433", "127.0.0.1.1"])
async def test_an_address_in_a_legacy_form_is_refused_without_a_lookup(
    registry: NodeRegistry, httpserver: HTTPServer, host: str
):
    """``socket`` would take ``127.1`` or ``2130706433`` for 127.0.0.1 without telling."""
    url = f"http://{host}:{httpserver.port}/"

    result = await fetch(registry, url)

    assert result.error is not None, result
    assert result.error.type == "invalid_url"
    assert result.error.message == f"GET {url}: invalid URL: {host!r} is not an IP address"
    assert httpserver.log == []


async def test_redirects_change_the_method_body_and_headers_as_httpx_does(
    registry: NodeRegistry, httpserver: HTTPServer, other_server: HTTPServer
):
    """303 (and 302) become GET without the body; Authorization stays with its origin;
    the workflow's Cookie is not sent on; a 307 keeps the method and the body."""
    httpserver.expect_request("/see-other").respond_with_data(
        "", status=303, headers={"Location": other_server.url_for("/elsewhere")}
    )
    httpserver.expect_request("/temporary").respond_with_data(
        "", status=307, headers={"Location": "/kept"}
    )
    httpserver.expect_request("/kept").respond_with_data("kept")
    other_server.expect_request("/elsewhere").respond_with_data("elsewhere")
    headers = {"Authorization": "Bearer t0k3n", "Cookie": "mine=1", "X-Trace": "7"}

    for path in ("/see-other", "/temporary"):
        result = await fetch(
            registry, httpserver.url_for(path), method="POST", json={"n": 1}, headers=headers
        )
        assert result.status is NodeStatus.SUCCEEDED, result.error

    [(elsewhere, _)] = other_server.log
    assert elsewhere.method == "GET"
    assert elsewhere.get_data() == b""
    assert "Authorization" not in elsewhere.headers
    assert "Cookie" not in elsewhere.headers
    assert elsewhere.headers["X-Trace"] == "7"
    kept = httpserver.log[-1][0]
    assert (kept.path, kept.method, kept.json) == ("/kept", "POST", {"n": 1})
    assert kept.headers["Authorization"] == "Bearer t0k3n"
    assert "Cookie" not in kept.headers


async def test_redirects_are_capped(registry: NodeRegistry, httpserver: HTTPServer):
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    policy = OutboundPolicy(max_redirects=3)

    result = await fetch(registry, httpserver.url_for("/loop"), policy=policy)

    assert result.error is not None, result
    assert result.error.type == "too_many_redirects"
    assert result.error.message == f"GET {httpserver.url_for('/loop')}: more than 3 redirects"
    assert result.attempts == 1
    assert len(httpserver.log) == 4


async def test_service_clients_go_through_the_policy(registry: NodeRegistry):
    """webhook.send posts to a URL the workflow names, through the host's client."""
    secrets = MemorySecrets()
    secrets.add("hook", "hmac", secret="s")
    async with client(OutboundPolicy()) as http:
        executor = Executor(
            registry,
            services=build_services(ServiceConfig(timeout_s=2), http),
            secrets=secrets,
        )
        wf = workflow(
            node("start", "trigger.manual"),
            node(
                "hook",
                "webhook.send",
                params={"url": "http://169.254.169.254/latest/", "credential": "hook"},
            ),
            links=("start -> hook",),
        )
        result = (await run(executor, wf)).nodes["hook"]

    refused(
        result,
        "webhook POST http://169.254.169.254/latest/: refused by the outbound policy: "
        "169.254.169.254 is a link-local/metadata address",
    )


# -- without a server: tav.run_workflow and `tav run` --------------------------------


def _calling(url: str) -> dict[str, Any]:
    return document(
        node("start", "trigger.manual"),
        node("call", "core.http_request", params={"url": url, "timeout_s": 2}),
        links=("start -> call",),
    )


async def test_run_workflow_applies_the_settings_policy(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/x").respond_with_data("ok")
    settings = Settings(data_dir=tmp_path, outbound_allow_private=False)

    result = await run_workflow(_calling(httpserver.url_for("/x")), settings=settings)
    metadata = await run_workflow(
        _calling("http://169.254.169.254/"), settings=Settings(data_dir=tmp_path)
    )

    for outcome in (result, metadata):
        assert outcome.status is ExecutionStatus.FAILED
        error = outcome.nodes["call"].error
        assert error is not None
        assert error.type == "outbound_refused", error
    assert httpserver.log == []


def test_tav_run_applies_the_environments_policy(httpserver: HTTPServer, tmp_path: Path):
    httpserver.expect_request("/x").respond_with_data("ok")
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(_calling(httpserver.url_for("/x"))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env |= {"TAV_DATA_DIR": str(tmp_path / "data"), "TAV_OUTBOUND_ALLOW_PRIVATE": "false"}

    done = subprocess.run(
        [sys.executable, "-m", "tav", "run", str(flow), "--json", "--no-store"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0, done.stdout
    error = json.loads(done.stdout)["nodes"]["call"]["error"]
    assert error["type"] == "outbound_refused", error
    assert httpserver.log == []


# -- the server's own API -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """``tav serve --port P`` over a fresh data dir: (base URL, API key, port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    env["TAV_DATA_DIR"] = str(tmp_path / "data")
    tav = [sys.executable, "-m", "tav"]
    key = subprocess.run(
        [*tav, "api-keys", "create", "--name", "t", "--init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    port = _free_port()
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*tav, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield f"http://127.0.0.1:{port}", key, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


async def test_a_workflow_cannot_call_the_servers_own_api(served: tuple[str, str, int]):
    base, key, port = served
    targets = {
        "direct": f"http://127.0.0.1:{port}/api/v1/credentials",
        "by_name": f"http://localhost:{port}/api/v1/credentials",
        "mapped": f"http://[::ffff:127.0.0.1]:{port}/api/v1/api-keys",
    }
    nodes = [node("start", "trigger.manual")]
    nodes += [
        node(
            name,
            "core.http_request",
            params={"url": url, "timeout_s": 5},
            on_error="continue",
        )
        for name, url in targets.items()
    ]
    doc = document(*nodes, links=tuple(f"start -> {name}" for name in targets))
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
        async with asyncio.timeout(30):
            while True:
                try:
                    if (await api.get("/api/v1/nodes")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        created = await api.post("/api/v1/workflows", json=doc)
        assert created.status_code == 201, created.text
        ran = await api.post(f"/api/v1/workflows/{created.json()['id']}/run?wait=true", json={})

    assert ran.status_code == 200, ran.text
    execution = ran.json()
    for name, url in targets.items():
        error = execution["nodes"][name]["error"]
        assert error is not None, execution["nodes"][name]
        assert error["type"] == "outbound_refused", (name, error)
        assert error["message"].startswith(f"GET {url}: refused by the outbound policy: ")
        assert f"port {port} of " in error["message"]
        assert error["message"].endswith("is the TAV server's own API")


# -- response size --------------------------------------------------------------------


def _zeros(total: int, chunk: int = MIB) -> Iterator[bytes]:
    block = b"\0" * chunk
    for _ in range(total // chunk):
        yield block


async def _measured(awaitable: Any) -> tuple[Any, int, float]:
    """``awaitable``'s result, the peak of the Python memory allocated meanwhile, and
    the seconds it took."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    clock = time.perf_counter()
    try:
        result = await awaitable
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, time.perf_counter() - clock


async def test_a_large_answer_is_refused_by_its_content_length_before_it_is_read(
    registry: NodeRegistry, httpserver: HTTPServer
):
    size = 300 * MIB
    httpserver.expect_request("/big").respond_with_response(
        Response(_zeros(size), headers={"Content-Length": str(size)})
    )
    url = httpserver.url_for("/big")

    result, peak, seconds = await _measured(fetch(registry, url))  # the default limit

    assert result.error is not None, result
    assert result.error.type == "response_too_large"
    assert result.error.message == f"the response of GET {url} is larger than {50 * MIB} bytes"
    assert result.attempts == 1
    assert peak < 16 * MIB
    assert seconds < 5


async def test_a_streamed_answer_is_cut_at_the_limit(
    registry: NodeRegistry, httpserver: HTTPServer
):
    httpserver.expect_request("/stream").respond_with_response(Response(_zeros(300 * MIB)))
    url = httpserver.url_for("/stream")
    policy = OutboundPolicy(max_response_bytes=4 * MIB)

    result, peak, _ = await _measured(fetch(registry, url, policy=policy))

    assert result.error is not None, result
    assert result.error.message == f"the response of GET {url} is larger than {4 * MIB} bytes"
    assert peak < 24 * MIB


async def test_a_compressed_answer_is_counted_as_it_inflates(
    registry: NodeRegistry, httpserver: HTTPServer
):
    bomb = gzip.compress(b"\0" * (64 * MIB), compresslevel=1)  # 64 MiB in ~300 kB
    httpserver.expect_request("/bomb").respond_with_response(
        Response(bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    )
    httpserver.expect_request("/small").respond_with_response(
        Response(
            gzip.compress(b'{"a": 1}'),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    )
    policy = OutboundPolicy(max_response_bytes=4 * MIB)
    url = httpserver.url_for("/bomb")

    result, peak, _ = await _measured(fetch(registry, url, policy=policy))
    small = await fetch(registry, httpserver.url_for("/small"), policy=policy)

    assert result.error is not None, result
    assert result.error.message == (
        f"the response of GET {url} is larger than {4 * MIB} bytes once decompressed"
    )
    assert peak < 24 * MIB
    assert small.outputs["output"]["body"] == {"a": 1}


async def test_a_corrupt_compressed_answer_fails_as_invalid_response(
    registry: NodeRegistry, httpserver: HTTPServer
):
    httpserver.expect_request("/corrupt").respond_with_response(
        Response(b"not gzip at all", headers={"Content-Encoding": "gzip"})
    )
    url = httpserver.url_for("/corrupt")

    result = await fetch(registry, url)

    assert result.error is not None, result
    assert result.error.type == "invalid_response"
    assert result.error.message.startswith(f"the response of GET {url} is not valid gzip")


async def test_only_encodings_with_a_bounded_decoder_are_asked_for(
    registry: NodeRegistry, httpserver: HTTPServer
):
    def echo(request: Request) -> Response:
        return Response(request.headers.get("Accept-Encoding", ""))

    httpserver.expect_request("/echo").respond_with_handler(echo)
    httpserver.expect_request("/zstd").respond_with_response(
        Response(b"(zstd)", headers={"Content-Encoding": "zstd"})
    )

    asked = await fetch(registry, httpserver.url_for("/echo"))
    answered = await fetch(registry, httpserver.url_for("/zstd"))

    assert asked.outputs["output"]["body"] == "gzip, deflate"
    assert answered.error is not None
    assert answered.error.type == "invalid_response"


# -- model providers: a credential's base URL is written by a user too ----------------

AI_KINDS = ["openai", "openai_compatible", "anthropic", "google", "ollama"]
LOOPBACK_REFUSED = "refused by the outbound policy: 127.0.0.1 is a loopback address"


def _ai_executor(registry: NodeRegistry, fake_llm: FakeProviders, http: ProviderHttp) -> Executor:
    vault = MemorySecrets()
    for kind in AI_KINDS:
        vault.add(kind, kind, api_key="sk-test", base_url=fake_llm.url(kind))
    vault.add("metadata", "openai_compatible", base_url="http://169.254.169.254/v1")
    ai = AIServices(AIConfig(timeout_s=5), http=http)
    return Executor(registry, secrets=vault, services=HostServices(chat_models=ai, embeddings=ai))


@pytest.fixture
def ai_registry() -> NodeRegistry:
    return NodeRegistry([*BUILTIN_NODE_TYPES, *TESTING_NODE_TYPES, Ask])


@pytest.mark.parametrize("kind", AI_KINDS)
async def test_model_providers_are_reached_through_the_policy(
    registry: NodeRegistry, fake_llm: FakeProviders, kind: str
):
    allowed, refused = ProviderHttp(OutboundPolicy()), ProviderHttp(PRIVATE_OFF)
    try:
        flow = chat_flow(prompt="hi", models=chain(f"{kind}:m"), stream=False)
        answered = await run(_ai_executor(registry, fake_llm, allowed), flow)
        denied = await run(_ai_executor(registry, fake_llm, refused), flow)
    finally:
        await allowed.aclose()
        await refused.aclose()

    assert answered.nodes["chat"].status is NodeStatus.SUCCEEDED, answered.nodes["chat"].error
    error = denied.nodes["chat"].error
    assert error is not None
    assert LOOPBACK_REFUSED in error.message, error.message
    assert error.retryable is False
    assert len(fake_llm.requests_to(kind)) == 1


async def test_a_metadata_base_url_is_refused_by_default(
    registry: NodeRegistry, fake_llm: FakeProviders
):
    http = ProviderHttp(OutboundPolicy())
    try:
        flow = chat_flow(prompt="hi", models=chain("metadata:m"), stream=False)
        result = await run(_ai_executor(registry, fake_llm, http), flow)
    finally:
        await http.aclose()

    error = result.nodes["chat"].error
    assert error is not None
    assert (
        "refused by the outbound policy: 169.254.169.254 is a link-local/metadata address"
        in error.message
    )


@pytest.mark.parametrize("kind", ["openai", "google", "ollama"])
async def test_embedding_providers_are_reached_through_the_policy(
    ai_registry: NodeRegistry, fake_llm: FakeProviders, kind: str
):
    http = ProviderHttp(PRIVATE_OFF)
    try:
        flow = ask_flow(embed={"models": chain(f"{kind}:e"), "texts": ["x"]})
        result = await run(_ai_executor(ai_registry, fake_llm, http), flow)
    finally:
        await http.aclose()

    error = result.nodes["ask"].error
    assert error is not None
    assert LOOPBACK_REFUSED in error.message, error.message
    assert fake_llm.requests_to(kind) == []


async def test_media_given_by_url_are_fetched_through_the_policy(
    registry: NodeRegistry, fake_llm: FakeProviders, httpserver: HTTPServer
):
    """LangChain's Google package would fetch an image URL itself, on this machine,
    with no policy and no size limit: media URLs are fetched here instead."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(24)
    httpserver.expect_request("/cat.png").respond_with_data(png, content_type="image/png")

    def image(url: str) -> dict[str, Any]:
        return {"media": "v1", "kind": "image", "mime_type": "image/png", "uri": url}

    http = ProviderHttp(OutboundPolicy())
    try:
        executor = _ai_executor(registry, fake_llm, http)
        shown = await run(
            executor,
            chat_flow(
                prompt="what is it?",
                media=image(httpserver.url_for("/cat.png")),
                models=chain("ollama:m"),
                stream=False,
            ),
        )
        refused = await run(
            executor,
            chat_flow(
                prompt="what is it?",
                media=image("http://169.254.169.254/latest/meta-data/iam/"),
                models=chain("google:m"),
                stream=False,
            ),
        )
    finally:
        await http.aclose()

    assert shown.nodes["chat"].status is NodeStatus.SUCCEEDED, shown.nodes["chat"].error
    [request] = fake_llm.requests_to("ollama")
    assert request.json["messages"][-1]["images"] == [base64.b64encode(png).decode()]
    error = refused.nodes["chat"].error
    assert error is not None
    assert error.type == "outbound_refused"
    assert error.message == (
        "GET http://169.254.169.254/latest/meta-data/iam/: refused by the outbound policy: "
        "169.254.169.254 is a link-local/metadata address"
    )
    assert fake_llm.requests_to("google") == []


async def test_a_cookie_one_request_was_given_never_goes_out_with_another(
    registry: NodeRegistry, httpserver: HTTPServer
):
    """A host's client is shared by every workflow and user: the session cookie a server
    sets for one workflow's request is not sent with the next workflow's request."""
    httpserver.expect_request("/login").respond_with_data(
        "welcome", headers={"Set-Cookie": "session=alice-secret; Path=/"}
    )
    seen: list[str | None] = []
    httpserver.expect_request("/whoami").respond_with_handler(
        lambda request: seen.append(request.headers.get("Cookie")) or Response("who?")
    )
    async with OutboundSession(OutboundPolicy()) as shared:
        await fetch(registry, httpserver.url_for("/login"), session=shared)
        await fetch(registry, httpserver.url_for("/whoami"), session=shared)
        await fetch(
            registry, httpserver.url_for("/whoami"), session=shared, headers={"Cookie": "mine=1"}
        )

    assert seen == [None, "mine=1"]  # a cookie the workflow sends itself still goes


async def test_the_model_providers_client_keeps_no_cookies(httpserver: HTTPServer):
    httpserver.expect_request("/v1/login").respond_with_data(
        "", headers={"Set-Cookie": "session=bob-secret; Path=/"}
    )
    httpserver.expect_request("/v1/next").respond_with_handler(
        lambda request: Response(request.headers.get("Cookie") or "none")
    )
    providers = ProviderHttp(OutboundPolicy())
    try:
        shared = providers.shared_client()
        await shared.get(httpserver.url_for("/v1/login"))
        answer = await shared.get(httpserver.url_for("/v1/next"))
    finally:
        await providers.aclose()

    assert answer.text == "none"
