"""The live wallboard: boards and their layouts, read-only kiosk tokens, the page and its SSE stream."""
