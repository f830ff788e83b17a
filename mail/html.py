"""The text of an HTML-only e-mail, with a line break wherever the sender's mail program showed one.

Dropping the tags alone glues block elements together ("<div>My order is 100234</div><div>Thanks</div>"
becomes "100234Thanks"), and the order number is lost.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# Cells of one row stay on one line, apart.
CELLS = frozenset({"td", "th"})
HIDDEN = frozenset({"head", "script", "style", "template", "title"})
SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        if tag == "pre":
            self.preformatted += 1
        self._break(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        if tag == "pre":
            self.preformatted = max(0, self.preformatted - 1)
        self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data if self.preformatted else data.replace("\n", " "))

    def _break(self, tag: str) -> None:
        if tag in CELLS:
            self.pieces.append(" ")
        elif tag == "br" or (tag in BLOCKS and self._last_visible() != "\n"):
            # One break between blocks however many tags end and start there; each <br> is a line.
            self.pieces.append("\n")


    def _last_visible(self) -> str:
        """The last piece that is not only spaces (the indentation between tags)."""
        return next((piece for piece in reversed(self.pieces) if piece == "\n" or piece.strip()), "")


def html_to_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (SPACES.sub(" ", line).strip() for line in "".join(collector.pieces).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
