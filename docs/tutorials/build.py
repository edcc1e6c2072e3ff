"""Build the tutorial notebooks, English and Chinese, from one source file per topic.

A source file ``source/NN_topic.md`` is a sequence of blocks, each opened by a marker line:

    #%% en      markdown for the English notebook
    #%% zh      the same cell in Chinese (must follow its ``en`` block)
    #%% code    a code cell, shared by both notebooks

so the two notebooks of a topic have the same code cells, in the same places, by construction.
The notebooks are written without outputs (``python docs/tutorials/build.py``); the tests check that
the committed ``en/*.ipynb`` and ``zh/*.ipynb`` are exactly what this script writes, and run them.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "source"
LANGUAGES = ("en", "zh")
MARKER = re.compile(r"^#%% (en|zh|code)[ \t]*$", re.MULTILINE)
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def topics() -> list[str]:
    """The topic names (source file stems), in order."""
    return sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.md"))


def parse(text: str, where: str = "source") -> list[tuple[str, str]]:
    """Split a source into ``(kind, text)`` blocks; check that each ``en`` block is followed by a ``zh`` one."""
    parts = MARKER.split(text)
    if parts[0].strip():
        raise ValueError(f"{where}: text before the first '#%% en|zh|code' marker")
    blocks = [(kind, body.strip("\n")) for kind, body in zip(parts[1::2], parts[2::2])]
    for i, (kind, body) in enumerate(blocks):
        if not body.strip():
            raise ValueError(f"{where}: empty '{kind}' block (block {i + 1})")
        after = blocks[i + 1][0] if i + 1 < len(blocks) else None
        before = blocks[i - 1][0] if i else None
        if kind == "en" and after != "zh" or kind == "zh" and before != "en":
            raise ValueError(f"{where}: block {i + 1} ('{kind}'): every 'en' block must be followed by its 'zh' block")
    return blocks


def notebook(topic: str, language: str) -> nbformat.NotebookNode:
    """The notebook of ``topic`` in ``language`` (no outputs; cell ids derived from the position)."""
    blocks = parse((SOURCES / f"{topic}.md").read_text(encoding="utf-8"), f"{topic}.md")
    nb = nbformat.v4.new_notebook(nbformat=4, nbformat_minor=5)  # pinned: a newer nbformat must not change the files
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for kind, body in blocks:
        if kind == "code":
            cell = nbformat.v4.new_code_cell(body)
        elif kind == language:
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            continue
        cell.id = f"{topic[:2]}-{len(nb.cells):02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(topic: str, language: str) -> str:
    """The ``.ipynb`` text of one notebook, as written to disk."""
    return nbformat.writes(notebook(topic, language)) + "\n"


def path(topic: str, language: str) -> Path:
    return HERE / language / f"{topic}.ipynb"


def main(argv=None) -> int:
    """Write every notebook; with ``--check``, only report the ones that differ from their source."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for topic in topics():
        for language in LANGUAGES:
            text, target = render(topic, language), path(topic, language)
            if target.exists() and target.read_text(encoding="utf-8") == text:
                continue
            stale.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for target in stale:
        print(f"{'stale' if check else 'wrote'} {target.relative_to(HERE)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
