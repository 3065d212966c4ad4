"""publisher: Markdown articles to feeds, an archive site and email digests, on a timetable."""

__version__ = "0.1.0"
