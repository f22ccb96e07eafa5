"""Render Markdown with cmarkgfm (GitHub's cmark-gfm, with its table,
autolink, strikethrough and tagfilter extensions, raw HTML allowed so that
any that got through shows) and print the HTML's structure as JSON."""
import json
import sys
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options


class Walk(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.links, self.tables, self.cell = set(), [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href"))
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


text = open(sys.argv[1], encoding="utf-8").read()
html = cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)
w = Walk()
w.feed(html)
json.dump({"html": html, "tags": sorted(w.tags), "links": w.links, "tables": w.tables}, sys.stdout)
