"""A griffe extension for the docs build: render the library's RST-flavoured docstrings in Markdown.

The docstrings are written for reading in a terminal and in Sphinx style: cross-reference roles
(``:func:`~sltheory.certify```), literal blocks introduced by ``::``. mkdocstrings renders
docstrings as Markdown, where a role would show as ``:func:`` text and ``::`` stays visible. This
extension rewrites the *rendered copy* only (the source files are untouched):

* ``:role:`~a.b.c``` → ```c```, ``:role:`a.b``` → ```a.b```, ``:role:`title <a.b>``` → ```title```
  (inline code; Sphinx would make a link);
* a line ending in ``text::`` → ``text:``, a line ending in ``text ::`` → ``text``, a line ``::``
  alone → blank (the indented block that follows is a Markdown code block, as it is in RST).

Loaded by ``mkdocs.yml`` (``extensions: [docs/_ext/rst_roles.py]``); ``docs/_ext/`` is excluded
from the site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`([^`]+)`")
_TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _role(match: re.Match[str]) -> str:
    text = match.group(1).strip()
    titled = _TITLED.match(text)
    if titled:
        text = titled.group(1)
    elif text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text}`"


def _literal(line: str) -> str:
    if not line.rstrip().endswith("::"):
        return line
    head = line.rstrip()[:-2]
    if not head.strip():
        return ""
    return head.rstrip() if head.endswith((" ", "\t")) else head + ":"


def _escape(line: str) -> str:
    """``_`` escaped outside inline code: the docstrings' subscripts (``z⁻_j``, ``h_{i−1}``) are
    not emphasis, but Markdown pairs an underscore after a non-word character with a later one."""
    out, end = [], 0
    for span in _CODE_SPAN.finditer(line):
        out += [line[end:span.start()].replace("_", "\\_"), span.group(0)]
        end = span.end()
    return "".join(out) + line[end:].replace("_", "\\_")


def _markdown_lines(lines: list[str]) -> list[str]:
    """Escape every line but those of indented literal blocks (4+ spaces after a blank line)."""
    out: list[str] = []
    in_code, previous_blank = False, True
    for line in lines:
        blank = not line.strip()
        if not blank:
            indented = len(line) - len(line.lstrip(" ")) >= 4
            in_code = indented and (in_code or previous_blank)
        out.append(line if in_code or blank else _escape(line))
        previous_blank = blank
    return out


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with Sphinx roles as inline code, ``::`` literal markers resolved and
    underscores outside code escaped."""
    lines = [_literal(line) for line in _ROLE.sub(_role, text).split("\n")]
    return "\n".join(_markdown_lines(lines))


class RstRoles(griffe.Extension):
    """Rewrite every docstring as its object is created (``on_object`` skips the root package)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
