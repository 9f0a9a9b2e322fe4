"""MultiBridge: one MCP server in front of many LLM providers, with failover."""

__version__ = "0.1.0"

__all__ = ["__version__"]
