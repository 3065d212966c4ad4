"""Rendering a digest once: HTML that mail clients show well, real text, placeholders intact."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import html as lxml_html

from publisher import publish
from publisher.config import Settings
from publisher.digest.inline import inline_css
from publisher.digest.placeholders import PATTERN, PLACEHOLDERS
from publisher.digest.render import DigestRender, digest_title, render_digest
from publisher.errors import TemplateError
from publisher.models import Article, Digest
from publisher.scaffold import create_site
from publisher.send import render_options
from publisher.theme import default_theme_path
from tests.conftest import BASE_CONFIG, NOW, SiteFactory, article, settings_of

DUE = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
DIGEST_ID = "weekly-20261125-0700"
ARTICLES = {
    "content/ferry.md": article(
        "Ferry fares rise", "2026-11-02 09:00", id="ferry",
        summary='"Fares rise by a fifth on the night boats, and the monthly pass goes up by '
                'six dollars from January."'),
    "content/bridge.md": article('"Bridge: what closes <when> & why"', "2026-11-20 18:30",
                                 id="bridge", image="/images/bridge.jpg"),
}
UNSUBSCRIBE = PLACEHOLDERS["unsubscribe_url"]
PREFERENCES = PLACEHOLDERS["preferences_url"]
GREETING = PLACEHOLDERS["greeting"]
DEFAULT_HTML = (default_theme_path() / "email" / "digest.html").read_text(encoding="utf-8")


def site_articles(settings: Settings) -> list[Article]:
    return sorted(publish.load(settings).published(NOW), key=lambda a: a.date, reverse=True)


def render_site(make_site: SiteFactory, files: dict[str, str | bytes] | None = None,
                config: str = BASE_CONFIG, articles: list[Article] | None = None
                ) -> DigestRender:
    settings = settings_of(make_site({**ARTICLES, **(files or {})}, config=config))
    chosen = site_articles(settings) if articles is None else articles
    digest = Digest(DIGEST_ID, "weekly", DUE, DUE, tuple(a.id for a in chosen))
    return render_digest(render_options(settings), digest, chosen)


@pytest.fixture
def rendered(make_site: SiteFactory) -> DigestRender:
    return render_site(make_site)


@pytest.fixture
def page(rendered: DigestRender) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(rendered.rendered.html)


def test_the_title_is_the_due_date_in_the_sites_timezone() -> None:
    late_evening_in_chicago = datetime(2026, 11, 26, 0, 30, tzinfo=UTC)
    assert digest_title(late_evening_in_chicago, ZoneInfo("America/Chicago")) == (
        "Digest for 25 November 2026")
    assert digest_title(late_evening_in_chicago, ZoneInfo("Europe/Lisbon")) == (
        "Digest for 26 November 2026")


def test_the_default_subject_names_site_and_digest(rendered: DigestRender) -> None:
    assert rendered.rendered.subject == "Test Gazette: Digest for 25 November 2026"
    assert rendered.rendered.digest_id == DIGEST_ID
    assert rendered.warnings == ()


def test_the_subject_template_is_not_html_escaped(make_site: SiteFactory) -> None:
    config = BASE_CONFIG.replace('title = "Test Gazette"', 'title = "Bits & <Bobs>"') + (
        '\n[email]\nsubject = "{{ site.title }} | {{ articles|length }} new: '
        '{{ articles[0].title }}"\n')
    result = render_site(make_site, config=config)
    assert result.rendered.subject == "Bits & <Bobs> | 2 new: Bridge: what closes <when> & why"


def test_a_title_with_line_breaks_gives_a_one_line_subject(make_site: SiteFactory) -> None:
    config = BASE_CONFIG + '\n[email]\nsubject = "News: {{ articles[0].title }}"\n'
    settings = settings_of(make_site(ARTICLES, config=config))
    chosen = site_articles(settings)
    chosen[0] = replace(chosen[0], title="Bridge\r\nBcc: victim@example.org\r\n\r\nbody\u2028x")
    digest = Digest(DIGEST_ID, "weekly", DUE, DUE, tuple(a.id for a in chosen))
    subject = render_digest(render_options(settings), digest, chosen).rendered.subject
    assert subject == "News: Bridge Bcc: victim@example.org body x"


@pytest.mark.parametrize(("template", "message"), [  # its syntax is checked at load
    ("{{ digest.headline }}", "the subject template cannot be rendered: "
                              "'publisher.digest.render.DigestView object' has no attribute "
                              "'headline'"),
    ("{{ '  ' }}", "the subject template gives an empty subject"),
])
def test_a_broken_subject_template_names_the_key(make_site: SiteFactory, template: str,
                                                  message: str) -> None:
    config = BASE_CONFIG + f'\n[email]\nsubject = "{template}"\n'
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, config=config)
    problem = caught.value.problem
    assert (problem.path, problem.key, problem.message) == ("publisher.toml", "email.subject",
                                                            message)


def test_the_page_declares_language_and_colour_schemes(page) -> None:
    assert page.get("lang") == "en"
    metas = {m.get("name"): m.get("content") for m in page.iter("meta") if m.get("name")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert metas["viewport"] == "width=device-width, initial-scale=1"


def test_the_hidden_preheader_is_the_first_articles_summary(page) -> None:
    preheader = page.find_class("preheader")[0]
    assert "display:none" in preheader.get("style").replace(" ", "")
    assert preheader.text_content().startswith("The council voted on Tuesday.")
    body_children = [c for c in page.find("body") if isinstance(c.tag, str)]
    assert body_children[0] is preheader


def test_each_article_has_linked_title_date_summary_and_read_more(page) -> None:
    links = [(a.get("href"), a.text_content()) for a in page.iter("a")]
    bridge = "https://news.example.org/2026/11/bridge-what-closes-when-why/"
    ferry = "https://news.example.org/2026/11/ferry-fares-rise/"
    assert (bridge, "Bridge: what closes <when> & why") in links
    assert (ferry, "Ferry fares rise") in links
    # a screen reader's list of links tells them apart: each says which article it opens
    assert links.count((bridge, "Read “Bridge: what closes <when> & why”")) == 1
    assert links.count((ferry, "Read “Ferry fares rise”")) == 1
    more = [text for _, text in links if text.startswith("Read")]
    assert len(set(more)) == len(more) == 2
    text = page.text_content()
    assert "20 November 2026" in text
    assert "2 November 2026" in text
    assert "and the monthly pass goes up by six dollars from January." in text
    assert text.index("Bridge: what closes") < text.index("Ferry fares rise")
    assert [img.get("src") for img in page.iter("img")] == [
        "https://news.example.org/images/bridge.jpg"]


def test_titles_are_escaped_in_html(rendered: DigestRender) -> None:
    assert "Bridge: what closes &lt;when&gt; &amp; why" in rendered.rendered.html
    assert "<when>" not in rendered.rendered.html


def test_the_header_links_the_browser_copy_and_the_footer_has_address_and_unsubscribe(
        page) -> None:
    links = {a.text_content().strip(): a.get("href") for a in page.iter("a")}
    assert links["View this digest in your browser"] == (
        "https://news.example.org/digests/weekly-20261125-0700.html")
    assert links["Unsubscribe"] == UNSUBSCRIBE
    assert links["Change what you receive"] == PREFERENCES
    footer = page.find_class("footer")[0]
    assert "1 Test Street, Testville" in footer.text_content()
    assert footer.xpath(".//a[text()='Unsubscribe']")


def test_every_link_and_image_is_absolute(page) -> None:
    urls = [*page.xpath("//@href"), *page.xpath("//@src")]
    assert urls
    assert all(u.startswith("https://") or u in (UNSUBSCRIBE, PREFERENCES) for u in urls), urls


def test_css_is_inlined_and_only_media_queries_stay_in_a_style_block(page) -> None:
    assert "font-size:26px" in page.find(".//h1").get("style").replace(" ", "")
    styles = [s.text for s in page.iter("style")]
    assert len(styles) == 1
    assert "@media (prefers-color-scheme: dark)" in styles[0]
    assert "@media screen and (max-width: 480px)" in styles[0]
    assert "!important" in styles[0]
    assert not page.xpath("//@data-premailer")


def _pixels(style: str, prop: str) -> list[int]:
    return [int(v) for v in re.findall(rf"(?:^|;)\s*{prop}\s*:\s*(\d+)px", style)]


def test_the_layout_is_fluid_up_to_600_px(page) -> None:
    """Nothing wider than a 375 px phone, except the 600 px maximum of the container."""
    container = page.find_class("container")[0]
    style = container.get("style").replace(" ", "")
    assert "width:100%" in style
    assert "max-width:600px" in style
    assert "table-layout:fixed" in style  # else a wide image widens an auto-layout table
    for element in page.iter():
        if not isinstance(element.tag, str):
            continue
        style = element.get("style", "")
        assert all(px <= 375 for px in _pixels(style, "width") + _pixels(style, "min-width"))
        assert all(px <= 600 for px in _pixels(style, "max-width"))
        width = element.get("width", "100%")
        # an image keeps its width for Outlook, and shrinks to the screen everywhere else
        shrinks = element.tag == "img" and "max-width:100%" in style.replace(" ", "")
        assert width.endswith("%") or int(width) <= 375 or shrinks, element.tag
    for cell in page.iter("td"):
        assert "overflow-wrap:anywhere" in cell.get("style").replace(" ", "")
    for image in page.iter("img"):
        assert "max-width:100%" in image.get("style").replace(" ", "")


def test_recipient_placeholders_survive_premailer() -> None:
    fields = "".join(f'<p title="{p}">{p}</p><a href="{p}">x</a><img alt="{p}" src="{p}">'
                     for p in PLACEHOLDERS.values())
    document = (f"<!DOCTYPE html><html><head><style>p {{ color: red; }} a {{ color: blue; }}"
                f"</style></head><body><table><tr><td>{fields}</td></tr></table></body></html>")
    result, problems = inline_css(document, "test.html")
    assert problems == []
    assert 'style="color:red"' in result
    for placeholder in PLACEHOLDERS.values():
        assert placeholder.isidentifier()
        assert result.count(placeholder) == 5
        assert f'href="{placeholder}"' in result


def test_placeholders_with_other_characters_would_not_survive_premailer() -> None:
    """Why placeholders are plain words: premailer's serializer percent-encodes href values."""
    result, _ = inline_css('<html><body><a href="{{ unsubscribe }}">x</a></body></html>', None)
    assert "{{ unsubscribe }}" not in result
    assert 'href="{{%20unsubscribe%20}}"' in result


def test_the_rendered_html_has_each_placeholder_where_the_template_put_it(rendered) -> None:
    html = rendered.rendered.html
    assert html.count(UNSUBSCRIBE) == 1
    assert f'href="{UNSUBSCRIBE}"' in html
    assert html.count(GREETING) == 1
    assert f">{GREETING}</p>" in html


def test_the_web_copy_has_no_personal_values(rendered: DigestRender) -> None:
    web = lxml_html.document_fromstring(rendered.rendered.web_html)
    assert PATTERN.search(rendered.rendered.web_html) is None
    links = {a.text_content().strip(): a.get("href") for a in web.iter("a")}
    assert links["Unsubscribe"] == "https://news.example.org/subscribe"
    assert links["Change what you receive"] == "https://news.example.org/subscribe"
    assert web.find_class("greeting")[0].text_content() == "Hi there,"
    personal = rendered.rendered.html.replace(UNSUBSCRIBE, "https://news.example.org/subscribe"
                                              ).replace(PREFERENCES,
                                                        "https://news.example.org/subscribe")
    assert rendered.rendered.web_html == personal.replace(GREETING, "Hi there,")


def test_the_web_copy_points_to_the_web_service_when_it_has_its_own_url(
        make_site: SiteFactory) -> None:
    config = BASE_CONFIG + '\n[web]\nurl = "https://mail.news.example.org"\n'
    web = render_site(make_site, config=config).rendered.web_html
    assert 'href="https://mail.news.example.org/subscribe"' in web


EXPECTED_TEXT = f"""\
Digest for 25 November 2026
===========================
Test Gazette - https://news.example.org/

{GREETING}

2 new articles in this digest.


Bridge: what closes <when> & why
20 November 2026

The council voted on Tuesday.

Read more: https://news.example.org/2026/11/bridge-what-closes-when-why/


Ferry fares rise
2 November 2026

Fares rise by a fifth on the night boats, and the monthly pass goes up
by six dollars from January.

Read more: https://news.example.org/2026/11/ferry-fares-rise/


----------------------------------------------------------------------
View this digest in your browser:
https://news.example.org/digests/weekly-20261125-0700.html

You receive this digest because you subscribed to Test Gazette.
Change what you receive: {PREFERENCES}
Unsubscribe: {UNSUBSCRIBE}

1 Test Street, Testville
"""


def test_the_text_part_is_a_readable_digest(rendered: DigestRender) -> None:
    assert rendered.rendered.text == EXPECTED_TEXT


def test_text_is_wrapped_at_72_columns_but_urls_stay_whole(make_site: SiteFactory) -> None:
    long_url = "https://example.org/" + "a" * 90
    summary = '"' + "word " * 60 + long_url + ' end."'
    files = {"content/long.md": article("Long", "2026-11-24 10:00", id="long", summary=summary)}
    text = render_site(make_site, files).rendered.text
    assert long_url in text.splitlines()
    assert all(len(line) <= 72 for line in text.splitlines()
               if "://" not in line and PATTERN.search(line) is None)


def test_rendering_twice_gives_the_same_digest(make_site: SiteFactory) -> None:
    first = render_site(make_site)
    second = render_site(make_site)
    assert first == second


def test_a_sites_template_overrides_the_default_file_by_file(make_site: SiteFactory) -> None:
    own_text = "Our own text for {{ digest.title }}\n{{ recipient.unsubscribe_url }}\n"
    result = render_site(make_site, {"templates/email/digest.txt": own_text})
    assert result.rendered.text == f"Our own text for Digest for 25 November 2026\n{UNSUBSCRIBE}\n"
    assert "View this digest in your browser" in result.rendered.html


def test_a_broken_template_is_reported_with_file_and_line(make_site: SiteFactory) -> None:
    broken = DEFAULT_HTML.replace("<h1>{{ digest.title }}</h1>", "<h1>{{ digest.title </h1>")
    line = broken.splitlines().index("<h1>{{ digest.title </h1>") + 1
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, {"templates/email/digest.html": broken})
    problem = caught.value.problem
    assert Path(problem.path).parts[-3:] == ("templates", "email", "digest.html")
    assert problem.line == line
    assert problem.message == "broken template: unexpected '/'"


UNKNOWN_NAME = "Title\n{{ digest.headline }}\n{{ recipient.unsubscribe_url }}\n"


def test_an_unknown_name_in_a_template_is_reported_with_its_file(make_site: SiteFactory
                                                                 ) -> None:
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, {"templates/email/digest.txt": UNKNOWN_NAME})
    problem = caught.value.problem
    assert Path(problem.path).name == "digest.txt"
    assert problem.message == ("template error: 'publisher.digest.render.DigestView object' "
                               "has no attribute 'headline'")


def test_an_unknown_name_in_a_template_is_reported_with_its_line(make_site: SiteFactory
                                                                 ) -> None:
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, {"templates/email/digest.txt": UNKNOWN_NAME})
    assert caught.value.problem.line == 2


@pytest.mark.parametrize("name", ["digest.html", "digest.txt"])
def test_a_template_without_an_unsubscribe_link_is_refused(make_site: SiteFactory, name: str
                                                           ) -> None:
    own = "<html><body><p>{{ digest.title }}</p></body></html>\n"
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, {f"templates/email/{name}": own})
    assert Path(caught.value.problem.path).name == name
    assert str(caught.value).endswith(
        "the digest has no unsubscribe link\n"
        "  hint: add {{ recipient.unsubscribe_url }} to the footer")


def test_a_placeholder_lost_in_css_inlining_is_refused(make_site: SiteFactory) -> None:
    own = DEFAULT_HTML.replace("<style>\n", "<style>/* {{ recipient.name }} */\n", 1)
    with pytest.raises(TemplateError) as caught:
        render_site(make_site, {"templates/email/digest.html": own})
    assert caught.value.problem.message == (
        "a recipient value (such as recipient.unsubscribe_url) was lost when the CSS was inlined")


def test_large_html_is_warned_about(make_site: SiteFactory) -> None:
    summary = '"' + "A long summary that goes on. " * 70 + '"'
    files = {f"content/a{i:02d}.md": article(f"Article {i}", f"2026-11-{i % 20 + 1:02d} 10:00",
                                              id=f"a{i:02d}", summary=summary)
             for i in range(60)}
    result = render_site(make_site, files)
    size = len(result.rendered.html.encode("utf-8"))
    assert size > 100 * 1024
    [warning] = result.warnings
    assert warning.warning
    assert warning.message == (
        f"the digest's HTML is {size / 1024:.0f} KB; Gmail clips messages above about 102 KB "
        "and hides the rest, unsubscribe link included")


def test_relative_links_in_a_template_are_warned_about(make_site: SiteFactory) -> None:
    own = DEFAULT_HTML.replace("<h1>", '<p><a href="/about/">About</a></p><h1>')
    [warning] = render_site(make_site, {"templates/email/digest.html": own}).warnings
    assert warning.warning
    assert warning.message == (
        "relative link '/about/': mail clients cannot follow it")
    assert warning.hint == "write it with site.url_for('...')"


def test_a_missing_postal_address_is_warned_about(make_site: SiteFactory) -> None:
    config = BASE_CONFIG.replace('postal_address = "1 Test Street, Testville"\n', "")
    [warning] = render_site(make_site, config=config).warnings
    assert (warning.key, warning.message, warning.warning) == (
        "postal_address", "no postal address for the digest's footer", True)


def test_broken_css_is_a_warning_and_nothing_is_printed(make_site: SiteFactory, capfd) -> None:
    own = DEFAULT_HTML.replace("<style>\n", "<style>\nh1 { color: red; \n.x { color: blue }}}\n",
                               1)
    result = render_site(make_site, {"templates/email/digest.html": own})
    assert result.warnings
    assert all(w.warning and w.message.startswith("CSS problem: ") for w in result.warnings)
    assert Path(result.warnings[0].path).name == "digest.html"
    assert "Digest for 25 November 2026" in result.rendered.html
    assert capfd.readouterr() == ("", "")


def test_a_new_site_gets_the_email_templates_and_renders_with_them(tmp_path: Path) -> None:
    root = tmp_path / "new"
    create_site(root, title="New Site", base_url="https://new.example.org/")
    for name in ("digest.html", "digest.txt"):
        copied = root / "templates" / "email" / name
        assert copied.read_bytes() == (default_theme_path() / "email" / name).read_bytes()
    settings = settings_of(root)
    chosen = site_articles(settings)
    digest = Digest(DIGEST_ID, "weekly", DUE, DUE, tuple(a.id for a in chosen))
    result = render_digest(render_options(settings), digest, chosen)
    assert result.rendered.subject == "New Site: Digest for 25 November 2026"
    assert f'href="{UNSUBSCRIBE}"' in result.rendered.html


def test_images_have_a_width_svg_is_left_out_with_a_warning_and_the_page_has_a_direction(
        make_site, clock) -> None:
    from publisher import publish
    from publisher.digest.render import render_digest
    from publisher.models import Digest
    from publisher.send import render_options
    from tests.conftest import BASE_CONFIG, article, settings_of

    root = make_site({
        "content/a.md": article("Photo", "2026-11-20", image="/images/photo.jpg"),
        "content/b.md": article("Drawing", "2026-11-21", image="/images/map.svg"),
    }, config=BASE_CONFIG.replace('language = "en"', 'language = "ar"'))
    settings = settings_of(root)
    articles = publish.load(settings).published(clock())
    digest = Digest("d-1", "digest", clock(), clock(), tuple(a.id for a in articles))
    result = render_digest(render_options(settings), digest, articles)
    html = lxml_html.fromstring(result.rendered.html)
    assert (html.get("lang"), html.get("dir")) == ("ar", "rtl")
    images = [(i.get("src"), i.get("width")) for i in html.iter("img")]
    assert images == [("https://news.example.org/images/photo.jpg", "544")]
    assert [str(w) for w in result.warnings if w.key == "image"] == [
        "content/b.md: image: the image of “Drawing” is an SVG file, which Gmail and Outlook "
        "do not show: it is left out of the email\n  hint: give the article a PNG or JPEG "
        "`image:` to show one in email"]
