"""The wallboard page: one static HTML file, with the board's settings embedded as JSON."""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path

from coachline_kpi.wallboard.layouts import Wallboard
from coachline_kpi.wallboard.tiles import AGENT_STATES, TILES
from coachline_kpi.wallboard.translations import TEXTS

STATIC = Path(__file__).parent / "static"
# Inside a <script> block "</script>" or "<!--" in a board's name would end the block early.
_PLACEHOLDER = re.compile(r"\{\{(lang|title|config)\}\}")
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@cache
def asset(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def config(board: Wallboard) -> dict[str, object]:
    """What the page's script needs: the layout, the tile registry and the words of the board's language."""
    return {
        "wallboard_id": board.wallboard_id,
        "name": board.name,
        "language": board.language.value,
        "layout": board.layout.model_dump(mode="json"),
        "tiles": [t.model_dump(mode="json") for t in TILES],
        "agent_states": list(AGENT_STATES),
        "texts": TEXTS[board.language.value],
        "stream": f"../v1/wallboards/{board.wallboard_id}/stream",
    }


def render(board: Wallboard) -> str:
    values = {
        "lang": board.language.value,
        "title": html.escape(board.name),
        "config": json.dumps(config(board), ensure_ascii=False).translate(_SCRIPT_SAFE),
    }
    # One pass, so a board's name containing a placeholder is never expanded.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], asset("wallboard.html").decode())
