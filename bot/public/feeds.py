"""RSS 2.0 and Atom (RFC 4287) feeds of what a commune discloses and announces, newest first, for
feed readers and other sites. Built with ElementTree: the XML is escaped by construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from bot.domain.communes import Commune
from bot.texts import t
from storage.models import Disclosure
from storage.models_public import Announcement

ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    published: datetime
    body: str
    category: str | None


def entries(commune: Commune, disclosures: list[Disclosure], announcements: list[Announcement], *,
            language: str, origin: str, base: str, install: str, query: str) -> list[Entry]:
    found = []
    for d in disclosures:
        category = t(language, f"disclosure.category.{d.category}")
        body = d.body + (f"\n{d.url}" if d.url else "")
        found.append(Entry(f"tag:{install}.tiepdan,2026:disclosure:{d.id}",
                           t(language, "public.feed.disclosure", category=category, title=d.title),
                           f"{origin}{base}/disclosures{query}#d{d.id}", d.published_at, body, category))
    for a in announcements:
        first_line = a.text.strip().split("\n", 1)[0]
        title = first_line if len(first_line) <= 80 else first_line[:79] + "…"
        found.append(Entry(f"tag:{install}.tiepdan,2026:announcement:{a.id}",
                           t(language, "public.feed.announcement", text=title),
                           f"{origin}{base}/announcements{query}#a{a.id}", a.published_at, a.text, None))
    found.sort(key=lambda entry: entry.published, reverse=True)
    return found[:ENTRIES]


def rss(commune: Commune, found: list[Entry], *, language: str, page: str, self_url: str) -> bytes:
    ET.register_namespace("atom", ATOM)
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = t(language, "public.feed.title", commune=commune.name)
    ET.SubElement(channel, "link").text = page
    ET.SubElement(channel, "description").text = t(language, "public.feed.description", commune=commune.label)
    ET.SubElement(channel, "language").text = language
    ET.SubElement(channel, f"{{{ATOM}}}link", {"href": self_url, "rel": "self", "type": "application/rss+xml"})
    if found:
        ET.SubElement(channel, "lastBuildDate").text = format_datetime(_utc(found[0].published), usegmt=True)
    for entry in found:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = entry.title
        ET.SubElement(item, "link").text = entry.link
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = entry.id
        ET.SubElement(item, "pubDate").text = format_datetime(_utc(entry.published), usegmt=True)
        ET.SubElement(item, "description").text = entry.body
        if entry.category:
            ET.SubElement(item, "category").text = entry.category
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def atom(commune: Commune, found: list[Entry], *, language: str, page: str, self_url: str, install: str) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": language})

    def add(parent, name, text=None, **attributes):
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attributes)
        if text is not None:
            element.text = text
        return element

    add(feed, "id", f"tag:{install}.tiepdan,2026:feed:{commune.code}:{language}")
    add(feed, "title", t(language, "public.feed.title", commune=commune.name))
    add(feed, "subtitle", t(language, "public.feed.description", commune=commune.label))
    updated = found[0].published if found else datetime(2026, 1, 1, tzinfo=timezone.utc)
    add(feed, "updated", _utc(updated).isoformat())
    add(feed, "link", href=page, rel="alternate", type="text/html")
    add(feed, "link", href=self_url, rel="self", type="application/atom+xml")
    author = add(feed, "author")
    add(author, "name", commune.label)
    for entry in found:
        node = add(feed, "entry")
        add(node, "id", entry.id)
        add(node, "title", entry.title)
        add(node, "link", href=entry.link, rel="alternate", type="text/html")
        add(node, "published", _utc(entry.published).isoformat())
        add(node, "updated", _utc(entry.published).isoformat())
        add(node, "content", entry.body, type="text")
        if entry.category:
            add(node, "category", term=entry.category)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)
