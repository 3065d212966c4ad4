"""Render and write many pages (and feed archives) on every core.

A cold build of a large archive renders thousands of pages, and creating each
file (and, for an article, its folder) costs the kernel as much as Jinja costs
Python. Worker processes forked from the build share its templates and articles
without copying them; each renders its share and writes it to temporary files,
and the build takes those over and renames them at commit, as for any other
file. A template error in a worker is reported exactly as in the build itself.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import jinja2

from publisher.build import orphans
from publisher.build import pages as archive
from publisher.build.output import OutputWriter, Staged, remove_temp
from publisher.errors import OutputError, Problem, TemplateError
from publisher.models import OutputFile


class _Failure(NamedTuple):
    """A worker's error, sent back as a value (an exception may not survive pickling)."""

    kind: type[TemplateError] | type[OutputError]
    problem: Problem


PARALLEL_MIN = 400  # fewer pages than this render faster than a worker starts
FEED_SETS_MIN = 40  # a feed set is three documents of up to `feeds.items` entries each
SHARES_PER_WORKER = 3

Produce = Callable[[Sequence[int]], Iterator[tuple[int, OutputFile, str]]]
"""Renders the items at the given indices: (index, file, its fingerprint) for each file."""

_job: tuple[OutputWriter, Produce, int] | None = None


def stage_pages(writer: OutputWriter, env: jinja2.Environment, pages: Sequence[archive.Page],
                workers: int | None = None, alongside: Callable[[], None] | None = None
                ) -> None:
    """Render `pages` and stage them in `writer`; in worker processes when it pays."""
    def produce(indices: Sequence[int]) -> Iterator[tuple[int, OutputFile, str]]:
        share = [pages[i] for i in indices]
        for index, file in zip(indices, archive.render(env, share), strict=True):
            yield index, file, pages[index].fingerprint

    stage_all(writer, len(pages), produce, PARALLEL_MIN, workers, alongside)


def stage_all(writer: OutputWriter, count: int, produce: Produce, minimum: int,
              workers: int | None = None, alongside: Callable[[], None] | None = None) -> None:
    """Stage every file `produce` makes of items 0..count-1, in worker processes when there
    are at least `minimum` items; a mistake is raised as in the build itself.

    `alongside` is other work of the build, done in this process while the workers
    render (it must not fork: they were forked before it starts)."""
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    if count < minimum or workers < 2 or "fork" not in _start_methods():
        for _, file, fingerprint in produce(range(count)):
            writer.put([file], fingerprint)
        if alongside is not None:
            alongside()
        return
    global _job
    writer.quiet()  # no write thread busy while the process forks
    _job = (writer, produce, os.getpid())
    failed: Exception | None = None
    try:
        size = -(-count // (workers * SHARES_PER_WORKER))
        # Contiguous shares: pages of one folder stay with one worker, and two processes
        # creating entries in the same folder would wait on its lock. Several per worker,
        # handed out as workers come free: one worker's heavier half kept the other idle.
        with multiprocessing.get_context("fork").Pool(
                workers, initializer=orphans.die_with_parent, initargs=(os.getpid(),)) as pool:
            pending = pool.map_async(_stage_share, [range(start, min(start + size, count))
                                                    for start in range(0, count, size)],
                                     chunksize=1)
            try:
                if alongside is not None:
                    alongside()
            except Exception as exc:  # raised once the workers' files are removed
                failed = exc  # (an interrupt is not held up: it ends the pool at once)
            shares = pending.get()
    finally:
        _job = None
    _adopt(writer, shares, failed)


def _adopt(writer: OutputWriter, shares: list[list[tuple[str, Staged]] | _Failure],
           failed: Exception | None = None) -> None:
    """Take over every worker's files; if any worker (or the work alongside) failed, remove
    them all and report."""
    failures = [share for share in shares if isinstance(share, _Failure)]
    done = [item for share in shares if not isinstance(share, _Failure) for item in share]
    if failures or failed is not None:
        _remove([staged for _, staged in done])
        if failed is not None:
            raise failed
        kind, problem = failures[0]
        raise kind(problem.message, path=problem.path, line=problem.line, hint=problem.hint)
    for path, staged in done:
        writer.adopt(path, staged)


def _stage_share(indices: range) -> list[tuple[str, Staged]] | _Failure:
    """In a worker: render and write every item of its share; a mistake comes back as a value."""
    assert _job is not None
    writer, produce, parent = _job
    done: list[tuple[str, Staged]] = []
    try:
        for _, file, fingerprint in produce(indices):
            if orphans.parent_gone(parent):  # nobody will rename or remove what we write
                _remove([staged for _, staged in done])
                os._exit(1)
            done.append((file.path, writer.stage_now(file, fingerprint)))
    except (TemplateError, OutputError) as exc:  # what rendering and writing raise
        _remove([staged for _, staged in done])
        return _Failure(type(exc), exc.problem)
    return done


def _remove(staged: Sequence[Staged]) -> None:
    for item in staged:
        remove_temp(item)


def _start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()
