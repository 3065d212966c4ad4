"""Render and write many pages on every core.

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
from collections.abc import Sequence
from typing import NamedTuple

import jinja2

from publisher.build import orphans
from publisher.build import pages as archive
from publisher.build.output import OutputWriter, Staged, remove_temp
from publisher.errors import OutputError, Problem, TemplateError


class _Failure(NamedTuple):
    """A worker's error, sent back as a value (an exception may not survive pickling)."""

    kind: type[TemplateError] | type[OutputError]
    problem: Problem


PARALLEL_MIN = 400  # fewer pages than this render faster than a worker starts
_job: tuple[OutputWriter, jinja2.Environment, Sequence[archive.Page], int] | None = None


def stage_pages(writer: OutputWriter, env: jinja2.Environment, pages: Sequence[archive.Page],
                workers: int | None = None) -> None:
    """Render `pages` and stage them in `writer`; in worker processes when it pays."""
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    if len(pages) < PARALLEL_MIN or workers < 2 or "fork" not in _start_methods():
        for page, file in zip(pages, archive.render(env, pages), strict=True):
            writer.put([file], page.fingerprint)
        return
    global _job
    writer.quiet()  # no write thread busy while the process forks
    _job = (writer, env, pages, os.getpid())
    try:
        size = -(-len(pages) // workers)
        # Contiguous shares: pages of one folder stay with one worker, and two processes
        # creating entries in the same folder would wait on its lock.
        with multiprocessing.get_context("fork").Pool(
                workers, initializer=orphans.die_with_parent, initargs=(os.getpid(),)) as pool:
            shares = pool.map(_stage_share, [range(start, min(start + size, len(pages)))
                                             for start in range(0, len(pages), size)])
    finally:
        _job = None
    _adopt(writer, pages, shares)


def _adopt(writer: OutputWriter, pages: Sequence[archive.Page],
           shares: list[list[tuple[int, Staged]] | _Failure]) -> None:
    """Take over every worker's files; if any worker failed, remove them all and report."""
    failures = [share for share in shares if isinstance(share, _Failure)]
    done = [item for share in shares if not isinstance(share, _Failure) for item in share]
    if failures:
        _remove([staged for _, staged in done])
        kind, problem = failures[0]
        raise kind(problem.message, path=problem.path, line=problem.line, hint=problem.hint)
    for index, staged in done:
        writer.adopt(pages[index].path, staged)


def _stage_share(indices: range) -> list[tuple[int, Staged]] | _Failure:
    """In a worker: render and write every page of its share; a mistake comes back as a value."""
    assert _job is not None
    writer, env, pages, parent = _job
    done: list[tuple[int, Staged]] = []
    try:
        share = [pages[i] for i in indices]
        for index, file in zip(indices, archive.render(env, share), strict=True):
            if orphans.parent_gone(parent):  # nobody will rename or remove what we write
                _remove([staged for _, staged in done])
                os._exit(1)
            done.append((index, writer.stage_now(file, pages[index].fingerprint)))
    except (TemplateError, OutputError) as exc:  # what rendering and writing raise
        _remove([staged for _, staged in done])
        return _Failure(type(exc), exc.problem)
    return done


def _remove(staged: Sequence[Staged]) -> None:
    for item in staged:
        remove_temp(item)


def _start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()
