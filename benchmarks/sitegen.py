"""A synthetic archive: the same articles written for publisher and for Pelican.

About 800 words each (headings, paragraphs, a list, a link, emphasis), 30 tags
of skewed popularity (1–3 per article), dates over twelve years, and no `id:`
lines, as in the first import of an old archive. Seeded, so every run writes
the same texts.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

TAGS = (
    "Transit", "City Council", "Housing", "Schools", "Budget", "Elections", "Parks",
    "Public Safety", "Health", "Environment", "Business", "Arts", "Sports", "Weather",
    "Water", "Roads", "Libraries", "Taxes", "Ferries", "Port", "Zoning", "Energy", "Climate",
    "Tourism", "Jobs", "Courts", "History", "Food", "Technology", "Neighbourhoods",
)
_TEXT = """
the city council voted on a plan to change how ferry fares are set next year while residents
asked whether the harbour budget could cover repairs to the old pier and the new bus lanes
planners said the proposal would cut waiting times for riders but critics warned that small
shops along the waterfront might lose customers during construction which could last two
summers officials promised public meetings in every district before any final decision and
the mayor argued that the money would come from a state grant rather than local taxes many
people who spoke at the hearing live in older neighbourhoods where rents have risen fast and
schools are crowded a report from the library board found that evening hours matter most to
students and workers the water utility expects higher costs after a dry winter so it may ask
for a modest increase engineers inspected the bridge in spring and found rust on several
beams that must be replaced soon volunteers planted trees in the riverside park and counted
birds for a regional survey the courts moved some hearings online which saved time for
families but raised questions about access for people without reliable internet
"""
WORDS = tuple(_TEXT.split())  # repeated words make common words common
START = datetime(2014, 1, 1)  # noqa: DTZ001 - naive on purpose: read in the site's timezone
SPAN_MINUTES = 12 * 365 * 24 * 60
TIMEZONE = "America/Chicago"
SITE_URL = "https://bench.example/"


@dataclass(frozen=True, slots=True)
class Article:
    year: int
    slug: str
    title: str
    date: str
    tags: tuple[str, ...]
    body: str


def _sentence(rng: random.Random, emphasis: bool = False) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    if emphasis:
        i = rng.randrange(1, len(words))
        words[i] = rng.choice(("*{}*", "**{}**", "_{}_")).format(words[i])
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, link: str | None = None) -> str:
    sentences = [_sentence(rng, emphasis=rng.random() < 0.3) for _ in range(rng.randint(4, 7))]
    if link:
        sentences.insert(1, f"Read [the full {rng.choice(WORDS)} report]({link}) for details.")
    return " ".join(sentences)


def _heading(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize()


def make_body(rng: random.Random, number: int) -> str:
    """About 800 words: a lead, four sections with headings, one list, one link, emphasis."""
    link = f"https://www.larkhaven.example/reports/{number}/"
    blocks = [_paragraph(rng, link)]
    for section in range(4):
        blocks.append("## " + _heading(rng, 3, 6))
        blocks.extend(_paragraph(rng) for _ in range(rng.randint(2, 3)))
        if section == 1:
            blocks.append("\n".join(f"- {_heading(rng, 4, 9)}" for _ in range(rng.randint(3, 5))))
    return "\n\n".join(blocks) + "\n"


def make_articles(count: int, seed: int) -> list[Article]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(TAGS))]  # a few tags dominate
    articles = []
    for number in range(count):
        title = _heading(rng, 4, 8)
        when = START + timedelta(minutes=rng.randrange(SPAN_MINUTES))
        tags: set[str] = set()
        wanted = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
        while len(tags) < wanted:
            tags.add(rng.choices(TAGS, weights=weights)[0])
        slug = "-".join(title.lower().split()[:6]) + f"-{number:05d}"
        articles.append(Article(when.year, slug, title, when.strftime("%Y-%m-%d %H:%M"),
                                tuple(sorted(tags)), make_body(rng, number)))
    return articles


def write_publisher_site(root: Path, articles: list[Article], *, with_ids: bool = True) -> None:
    """The archive as publisher keeps it: each article with the permanent id its first
    build (or `publisher import`) wrote; `with_ids=False` is an archive from elsewhere."""
    root.mkdir()
    (root / "publisher.toml").write_text(
        'title = "Larkhaven Bench"\ndescription = "A synthetic archive for timing builds."\n'
        f'base_url = "{SITE_URL}"\nlanguage = "en"\ntimezone = "{TIMEZONE}"\n\n'
        '[author]\nname = "The Bench Desk"\nemail = "desk@bench.example"\n\n'
        '[feeds]\nitems = 50\ncontent = "full"\n', "utf-8")
    for a in articles:
        ident = f"id: urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, SITE_URL + a.slug)}\n"
        header = (f"---\ntitle: {json.dumps(a.title)}\ndate: {a.date}\n"
                  f"tags: {json.dumps(list(a.tags))}\nslug: {a.slug}\n"
                  f"{ident if with_ids else ''}---\n")
        write_text(root / "content" / str(a.year) / f"{a.slug}.md", header + a.body)


def write_pelican_site(root: Path, articles: list[Article]) -> None:
    root.mkdir()
    for cached in (False, True):
        name = "pelicanconf_cached.py" if cached else "pelicanconf.py"
        (root / name).write_text(pelican_settings(cached), "utf-8")
    for a in articles:
        header = (f"Title: {a.title}\nDate: {a.date}\nTags: {', '.join(a.tags)}\n"
                  f"Slug: {a.slug}\n\n")
        write_text(root / "content" / str(a.year) / f"{a.slug}.md", header + a.body)


def pelican_settings(cached: bool) -> str:
    """Pelican's defaults, plus the feeds asked for and what any real site sets."""
    return (
        'AUTHOR = "The Bench Desk"\nSITENAME = "Larkhaven Bench"\n'
        f'SITEURL = "{SITE_URL.rstrip("/")}"\nTIMEZONE = "{TIMEZONE}"\nDEFAULT_LANG = "en"\n'
        'PATH = "content"\n'
        "USE_FOLDER_AS_CATEGORY = False  # the year folders are not categories\n"
        'FEED_ALL_ATOM = "feeds/all.atom.xml"\nFEED_ALL_RSS = "feeds/all.rss.xml"\n'
        'TAG_FEED_ATOM = "feeds/{slug}.tag.atom.xml"\nTAG_FEED_RSS = "feeds/{slug}.tag.rss.xml"\n'
        "FEED_MAX_ITEMS = 50  # as many entries as publisher's feeds\n"
        f"CACHE_CONTENT = {cached}\nLOAD_CONTENT_CACHE = {cached}\n"
    )


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def edit_one_sentence(path: Path) -> None:
    """Change the first sentence of the body, leaving the front matter as the build left it."""
    text = path.read_text("utf-8")
    close = text.index("\n---\n", 4) + 5
    body = text[close:]
    first = body[: body.index(". ") + 1]
    path.write_text(text[:close] + "The harbour board changed its mind on Tuesday."
                    + body[len(first):], "utf-8")
