"""`assistant mcp`: the memory as a Model Context Protocol server (stdio or HTTP)."""
