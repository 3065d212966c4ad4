"""The benchmark's articles as a Hugo site with the pages and feeds publisher builds.

Each article at /YYYY/MM/slug/, the home listing ten to a page, one page per tag
listing all its articles, and for the home and every tag an RSS, an Atom and a
JSON Feed of the 50 newest entries with full content, plus the sitemap: the same
work publisher's build does, in Hugo's own idiom (layouts, output formats).
"""

from __future__ import annotations

import json
from pathlib import Path

from sitegen import SITE_URL, TIMEZONE, Article, write_text

CONFIG = f"""\
baseURL = "{SITE_URL}"
title = "Larkhaven Bench"
languageCode = "en"
timeZone = "{TIMEZONE}"
disableKinds = ["section", "robotsTXT"]
paginate = 10

[permalinks]
posts = "/:year/:month/:slug/"

[taxonomies]
tag = "tags"

[services.rss]
limit = 50

[mediaTypes."application/feed+json"]
suffixes = ["json"]

[mediaTypes."application/atom+xml"]
suffixes = ["xml"]

[outputFormats.atom]
mediaType = "application/atom+xml"
baseName = "atom"
isPlainText = false

[outputFormats.jsonfeed]
mediaType = "application/feed+json"
baseName = "feed"
isPlainText = true

[outputs]
home = ["html", "rss", "atom", "jsonfeed"]
term = ["html", "rss", "atom", "jsonfeed"]
page = ["html"]
"""

BASEOF = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ block "title" . }}{{ .Site.Title }}{{ end }}</title>
<link rel="stylesheet" href="/style.css">
{{ range .AlternativeOutputFormats }}<link rel="alternate" type="{{ .MediaType.Type }}" \
href="{{ .Permalink }}">{{ end }}
</head><body><header><a href="/">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
"""

ITEM = """\
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> <time datetime="{{ .Date.Format \
"2006-01-02T15:04:05-07:00" }}">{{ .Date.Format "January 2, 2006" }}</time>
<p>{{ .Summary | plainify | truncate 200 }}</p>
<p>{{ range .Params.tags }}<a href="{{ "tags/" | relURL }}{{ . | urlize }}/">{{ . }}</a> \
{{ end }}</p></li>
"""

SINGLE = """\
{{ define "title" }}{{ .Title }} · {{ .Site.Title }}{{ end }}
{{ define "main" }}<article><h1>{{ .Title }}</h1>
<time datetime="{{ .Date.Format "2006-01-02T15:04:05-07:00" }}">{{ .Date.Format \
"January 2, 2006" }}</time>
{{ .Content }}
<p>{{ range .Params.tags }}<a href="{{ "tags/" | relURL }}{{ . | urlize }}/">{{ . }}</a> \
{{ end }}</p></article>{{ end }}
"""

HOME = """\
{{ define "main" }}<ul>{{ range (.Paginate .Site.RegularPages).Pages }}\
{{ partial "item.html" . }}{{ end }}</ul>
{{ template "_internal/pagination.html" . }}{{ end }}
"""

TERM = """\
{{ define "title" }}{{ .Title }} · {{ .Site.Title }}{{ end }}
{{ define "main" }}<h1>{{ .Title }}</h1>
<ul>{{ range .Pages }}{{ partial "item.html" . }}{{ end }}</ul>{{ end }}
"""

ATOM = """\
{{ printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<feed xmlns="http://www.w3.org/2005/Atom"><title>{{ .Site.Title }}</title>
<id>{{ .Permalink }}</id><link href="{{ .Permalink }}"/>
<updated>{{ (index .Site.RegularPages 0).Date.Format "2006-01-02T15:04:05Z07:00" }}\
</updated>
{{ range first 50 (cond .IsHome .Site.RegularPages .Pages) }}\
<entry><title>{{ .Title }}</title><id>{{ .Permalink }}</id>
<link href="{{ .Permalink }}"/><updated>{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}</updated>
<content type="html">{{ .Content | html }}</content></entry>
{{ end }}</feed>
"""

JSONFEED = """\
{{ $items := slice }}{{ range first 50 (cond .IsHome .Site.RegularPages .Pages) }}\
{{ $items = $items | append (dict "id" \
.Permalink "url" .Permalink "title" .Title "date_published" (.Date.Format \
"2006-01-02T15:04:05Z07:00") "content_html" .Content "tags" .Params.tags) }}{{ end }}\
{{ dict "version" "https://jsonfeed.org/version/1.1" "title" .Site.Title "home_page_url" \
.Site.BaseURL "feed_url" .Permalink "items" $items | jsonify }}
"""

LAYOUTS = {
    "_default/baseof.html": BASEOF,
    "partials/item.html": ITEM,
    "_default/single.html": SINGLE,
    "index.html": HOME,
    "_default/term.html": TERM,
    "_default/list.atom.xml": ATOM,
    "index.atom.xml": ATOM,
    "_default/list.jsonfeed.json": JSONFEED,
    "index.jsonfeed.json": JSONFEED,
}


def write_hugo_site(root: Path, articles: list[Article]) -> None:
    root.mkdir()
    (root / "hugo.toml").write_text(CONFIG, "utf-8")
    for name, text in LAYOUTS.items():
        write_text(root / "layouts" / name, text)
    for a in articles:
        date = a.date.replace(" ", "T") + ":00"
        header = (f"---\ntitle: {json.dumps(a.title)}\ndate: {date}\n"
                  f"tags: {json.dumps(list(a.tags))}\nslug: {a.slug}\n---\n")
        write_text(root / "content" / "posts" / str(a.year) / f"{a.slug}.md", header + a.body)

