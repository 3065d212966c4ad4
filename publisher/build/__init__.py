"""The build wing: articles to the bytes of the published site, written atomically.

`feeds` renders RSS, Atom and JSON Feed, `pages` plans and renders the archive's
pages (`page_html` holds their HTML helpers, `fanout` renders them on every core),
`output` stages and commits files, `state` remembers what the last build was
made from, `web_copies` keeps the digests' browser copies and `websub` pings hubs.
The pipeline that calls them in order is `publisher.publish`.
"""
