"""The same server over streamable HTTP, served by uvicorn on a loopback socket."""

from __future__ import annotations

import socket

import anyio
import uvicorn
from mcp import Client

from mcp_bridge.server import build_http_app
from tests.server._upstream import make_config
from tools.fake_provider import FakeProvider


async def test_complete_answers_over_streamable_http() -> None:
    async with FakeProvider() as fake:
        fake.queue_reply("a-model", "over http")
        config = make_config("a")
        config.providers[0].base_url = fake.base_url("openai")
        app = build_http_app(config, host="127.0.0.1")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.serve(sockets=[listener]))
            with anyio.fail_after(20):
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    tools = await client.list_tools()
                    result = await client.call_tool("complete", {"prompt": "hi"})
            server.should_exit = True
    assert {t.name for t in tools.tools} == {"complete", "plan", "verify"}
    assert result.structured_content is not None
    assert result.structured_content["text"] == "over http"
