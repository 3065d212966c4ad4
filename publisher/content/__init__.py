"""The content wing: articles read from `content/` into validated `Article`s.

`load` scans and parses every article (on every core, through the `cache`),
`frontmatter` splits and validates the YAML header, `markup` renders and
sanitizes the Markdown, `ids` writes permanent ids into files that have none,
and `importer` turns plain-text articles from the old site into Markdown. This
wing only reads, except for the ids and the importer, which write articles.
"""
