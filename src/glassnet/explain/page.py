"""Write the page: the HTML template with its CSS, JavaScript and data inlined, in one file.

The page needs nothing but itself: no network (its Content-Security-Policy forbids any), no server;
it opens from ``file://``. The data is a ``<script type="application/json" id="glassnet-data">``
element (see :mod:`glassnet.explain.data`), which tools read back with :func:`read_data`.
"""
from __future__ import annotations

import html
import json
import re
from importlib import resources

from ..errors import InputError
from ..io.atomic import write_text
from .data import page_data


def _asset(name: str) -> str:
    return resources.files("glassnet.explain").joinpath("assets", name).read_text(encoding="utf-8")


def render(data: dict) -> str:
    """The HTML text of the page for ``data``."""
    # "<" as \u003c: no text in the data (a file or model name) can close the script element or open another
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    parts = {"lang": html.escape(data["lang"]), "title": html.escape(data["model"]["name"]), "style": _asset("page.css"),
             "script": _asset("page.js"), "data": payload}
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("page.html"))


def write_page(model, x, path, **options) -> dict:
    """Explain ``model`` on one input ``x`` (no batch axis) in the self-contained HTML page ``path``.

    ``options`` are those of :func:`glassnet.explain.data.page_data` (``target``, ``classes``,
    ``lang``, ``check_torch``, ``title``, ``input_label``, caps). Written atomically; returns the data.
    """
    data = page_data(model, x, **options)
    write_text(path, render(data))
    return data


def read_data(path) -> dict:
    """The data embedded in a page written by :func:`write_page`."""
    text = open(path, encoding="utf-8").read()
    match = re.search(r'<script type="application/json" id="glassnet-data">(.*?)</script>', text, re.S)
    if match is None:
        raise InputError(f"{path}: no glassnet-data block - is this a page written by glassnet explain?")
    return json.loads(match.group(1))
