"""The MCP face of MultiBridge: tools, resources, progress and transports."""

from mcp_bridge.server.app import RouterFactory, ServedRouter, build_server
from mcp_bridge.server.transports import build_http_app, run_http, run_stdio

__all__ = [
    "RouterFactory",
    "ServedRouter",
    "build_http_app",
    "build_server",
    "run_http",
    "run_stdio",
]
