"""Issue 11's "done when", in headless Chromium over the demo story: every role walks every page
it sees (from /, following same-site links breadth-first, one page per route and at most two
query-string variants of it), in Japanese and in English, on a 390 × 844 phone and a
1280 × 800 desktop, and each page must

- answer below 400 (and so must every link the walked pages show the role);
- not scroll sideways at 390 px (tables scroll inside their own box);
- in Japanese, show no internal code (snake_case, dotted actions) and no English word outside
  the allowed proper nouns, units and abbreviations (tests/e2e/walk_allowed.py) and what the
  demo's people wrote themselves (names, titles, messages: read from the demo data);
- have one h1, the language in <html lang>, a label for every form control, text contrast of at
  least 4.5:1 (3:1 for large text), and a keyboard order that starts with the skip link, follows
  the document and shows where the focus is on every focusable element.

All failures of a role are reported in one assertion. Full-page screenshots of the key pages at
both widths and in both languages are written to screenshots/ at the repository root.
"""

import re
import time
from collections import deque
from html import unescape
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from sqlalchemy import String, Text
from sqlalchemy import select as select_columns
from sqlmodel import AutoString, SQLModel
from walk_allowed import ALLOWED, USER_CONTENT_TABLES
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from demo.organizations import DEMO_PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
ROLES = [
    None,  # a visitor, not logged in
    "recycler",
    "manufacturer",
    "officer",
    "standards",
    "operator",
    "kobe",  # signed up, not yet verified
    "blackmass",
]
SKIPPED = re.compile(r"^/(api/|static/|logout)|\.(csv|pdf|json|xml|png|svg|zip)$")
PAGES_PER_ROUTE = 2  # the first two addresses of a route (differing in their query string)
# The key pages (endpoint → screenshot name), shot the first time a role walks one.
KEY_PAGES = {
    "market.listings": "listings",
    "market.listing": "listing",
    "contracts.contract": "contract",
    "matching.proposals": "proposals",
    "matching.candidates": "candidates",
    "market.indices": "indices",
    "statistics.statistics": "statistics",
    "tenders.tenders": "tenders",
    "tenders.tender": "tender",
    "quality.standards": "standards",
    "quality.verify": "certificate-verify",
    "account.signup": "signup",
}

CODE_VALUE = re.compile(r"[a-z0-9_+.:/-]+")
HREF = re.compile(r'<a [^>]*href="([^"]+)"')
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
DOTTED = re.compile(r"\b[a-z]+\.[a-z_]+\b")
ADDRESSES = re.compile(r"\S+@\S+|https?://\S+")
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z])")
# Not words of a language: e-mail addresses, web addresses, certificate tokens and the
# upper-case codes of standards, indices and mandates (ISRI-BIRCH-CLIFF, CU-SCRAP-JP …).
NOT_WORDS = re.compile(
    r"\S+@\S+|https?://\S+|\b[\w-]*\d[\w-]*\b|\b[A-Z0-9]+(?:[-/][A-Z0-9]+)+\b|/[\w/.-]+"
)

# Collects what a Japanese reader sees: text nodes that are rendered, not inside an element in
# another language, code, kbd, textarea, script or style; option texts of visible selects; and
# the placeholders, alternative texts, ARIA labels and button values.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const excluded = (el) => el.closest(
    '[lang]:not([lang|="ja"]), code, kbd, samp, textarea, script, style, noscript, template');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || excluded(el)) continue;
    const shown = el.tagName === 'OPTION'
      ? (el.closest('select') || el).checkVisibility()
      : el.checkVisibility({visibilityProperty: true});
    if (shown) out.push(text);
  }
  for (const el of document.querySelectorAll(
      '[placeholder], img[alt], [aria-label], input[type=submit], input[type=button]')) {
    if (excluded(el)) continue;
    for (const a of ['placeholder', 'alt', 'aria-label']) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
    if (el.tagName === 'INPUT' && /submit|button/.test(el.type) && el.value) out.push(el.value);
  }
  return out;
}"""

# One h1, the page language, labelled controls (the rules of tests/web/test_accessibility.py:
# a <label for>, a wrapping <label> or aria-label; aria-labelledby too), text contrast, the
# links to walk and whether the page scrolls sideways.
AUDIT_JS = """() => {
  const problems = [];
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1`);
  for (const c of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(c.type)) continue;
    const labelled = (c.labels && c.labels.length) || c.getAttribute('aria-label')
      || c.getAttribute('aria-labelledby');
    if (!labelled) problems.push(`unlabelled ${c.tagName.toLowerCase()} name=${c.name}`);
  }
  // Contrast: every element with its own rendered text, against the first opaque background
  // behind it (the page's own colours: no background images are used behind text).
  const rgba = (s) => { const m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (fg, bg) => { const a = fg.length > 3 ? fg[3] : 1;
    return [0, 1, 2].map((i) => fg[i] * a + bg[i] * (1 - a)); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      const a = c.length > 3 ? c[3] : 1;
      if (a > 0) { layers.push(c); if (a >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const seen = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    if (!Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    if (el.closest('svg, [aria-hidden=true], [disabled], .visually-hidden, option')) continue;
    const s = getComputedStyle(el);
    const bg = background(el);
    const fg = over(rgba(s.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const key = `${s.color}/${bg}/${need}`;
    if (ratio < need && !seen.has(key)) {
      seen.add(key);
      const what = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
      problems.push(`contrast ${ratio.toFixed(2)} < ${need}: ${what} `
        + `"${el.textContent.trim().slice(0, 30)}" (${s.color} on rgb(${bg.map(Math.round)}))`);
    }
  }
  const links = Array.from(document.querySelectorAll('a[href]'), (a) => a.href);
  return {
    problems, links, lang: document.documentElement.lang,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  };
}"""

# The keyboard order after the real Tab presses: the tabbable elements in document order
# (no positive tabindex may reorder them), each showing a focus style when focused.
FOCUS_JS = """() => {
  const problems = [];
  const tabbable = Array.from(document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]'
  )).filter((el) => !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden'
    && el.checkVisibility({visibilityProperty: true}));
  for (const el of document.querySelectorAll('[tabindex]')) {
    if (el.tabIndex > 0) problems.push(`tabindex=${el.tabIndex} reorders the keyboard`);
  }
  const look = (el) => { const s = getComputedStyle(el);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor,
            s.borderColor, s.textDecorationLine].join('|'); };
  let unseen = 0, example = '';
  for (const el of tabbable) {
    document.activeElement && document.activeElement.blur();
    const before = look(el);
    el.focus({preventScroll: true, focusVisible: true});
    const s = getComputedStyle(el);
    const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    if (!ring && look(el) === before) {
      unseen += 1;
      example = example || `${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 20)}"`;
    }
  }
  if (unseen) problems.push(`${unseen} focusable elements show no focus, e.g. ${example}`);
  document.activeElement && document.activeElement.blur();
  return {problems, count: tabbable.length};
}"""

TAB_STEP_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {index: -1};
  const all = Array.from(document.querySelectorAll('*'));
  return {index: all.indexOf(el), skip: el.classList.contains('skip'),
          tag: el.tagName.toLowerCase() + (el.name ? `[name=${el.name}]` : ''),
          text: (el.textContent || el.value || '').trim().slice(0, 20)};
}"""
# Tab starts from the top of the document again (not from where the last check left it): a
# focus point before the first element, out of the tab order.
START_AT_THE_TOP_JS = """() => {
  let start = document.getElementById('walk-start');
  if (!start) {
    start = document.createElement('span');
    start.id = 'walk-start';
    start.tabIndex = -1;
    document.body.prepend(start);
  }
  start.focus();
  window.scrollTo(0, 0);
  return document.querySelector('a.skip') !== null;
}"""
TAB_PRESSES = 4  # real Tab presses per page and width (the header); the rest: FOCUS_JS


def _english_words(texts: list[str], content: re.Pattern) -> list[str]:
    """The internal codes and English words in a Japanese page's visible text: codes anywhere,
    words outside what the demo's users wrote (`content`)."""
    found: list[str] = []
    for text in texts:
        text = content.sub(" ", text)
        addressless = ADDRESSES.sub(" ", text)  # demo.junkan.jp of an e-mail is not a code
        found += SNAKE.findall(addressless) + DOTTED.findall(addressless)
        plain = NOT_WORDS.sub(" ", text)
        found += [w for w in WORD.findall(plain) if w not in ALLOWED]
    return sorted(set(found))


def _written(text: str) -> bool:
    """A text a person wrote, not a code kept in a text column (open, road+sea, copper_scrap)
    nor JSON."""
    return len(text) >= 3 and text[0] not in "[{" and not CODE_VALUE.fullmatch(text)


def _holds_text(column) -> bool:
    kind = column.type
    return isinstance(kind, String | AutoString) or getattr(kind, "impl", None).__class__ is Text


def _demo_content(app) -> re.Pattern:
    """The texts that the demo's people wrote themselves (names, addresses, listing and tender
    titles, messages …): they stay in the language their author chose. Texts the marketplace
    generates (invoice lines, custody entries, notifications, the audit trail, events) and
    reference data (materials, parameters, categories) are not among them."""
    texts: set[str] = set()
    with app.extensions["junkan.engine"].connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in USER_CONTENT_TABLES:
                continue
            columns = [c for c in table.c if _holds_text(c)]
            for row in conn.execute(select_columns(*columns)) if columns else ():
                texts |= {v.strip() for v in row if isinstance(v, str) and _written(v.strip())}
        # Certificate numbers are random tokens (secrets.token_urlsafe): pieces such as
        # "ocYildA" or "ab_cd" between their - and _ are neither code nor English.
        certificates = SQLModel.metadata.tables["certificate"]
        texts |= {v for (v,) in conn.execute(select_columns(certificates.c.id))}
    ordered = sorted(texts, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in ordered) or "(?!)")


def _route(app, path: str, query: str) -> tuple[str, str]:
    """(endpoint or numberless path, query-string keys) of a same-site path."""
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method="GET")
    except RequestRedirect:
        endpoint = re.sub(r"\d+", "N", path.rstrip("/"))
    except HTTPException:
        endpoint = re.sub(r"\d+", "N", path)
    return endpoint, query


def _focus_order(page: Page, every_element: bool) -> list[str]:
    """Tab from the top of the page: the skip link first, then forward in document order;
    with `every_element`, also every tabbable element shows its focus."""
    problems = []
    has_skip = page.evaluate(START_AT_THE_TOP_JS)  # (one call: a locator costs ~50 ms a page)
    previous, before = -1, "the top"
    first = -1
    for press in range(TAB_PRESSES):
        page.keyboard.press("Tab")
        step = page.evaluate(TAB_STEP_JS)
        if step["index"] < 0 or (press and step["index"] == first):
            break  # past the last element: the focus went round to the start
        if press == 0:
            first = step["index"]
        if press == 0 and has_skip and not step["skip"]:
            problems.append(
                f'the first Tab reaches {step["tag"]} "{step["text"]}", not the skip link'
            )
        if step["index"] < previous:
            problems.append(
                f'Tab {press + 1} goes back from {before} to {step["tag"]} "{step["text"]}"'
            )
            break
        # (the same element again: Tab moves between the parts of a date or month field)
        previous, before = step["index"], f'{step["tag"]} "{step["text"]}"'
    if every_element:
        problems += page.evaluate(FOCUS_JS)["problems"]
    return problems


def _log_in(page: Page, base: str, role: str | None, lang: str) -> None:
    """Log in as the role's demo member (or stay a visitor), then choose `lang` through the
    header's language form."""
    if role:
        page.goto(base + "/login")
        page.locator("#email").fill(f"{role}@demo.junkan.jp")
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("main button[type=submit]").click()
        expect(page.locator("header form.inline button")).to_be_attached()  # log-out button
    else:
        page.goto(base + "/")
    if page.locator("html").get_attribute("lang") != lang:
        page.locator("form.lang button").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _walk(
    page: Page, app, base: str, role: str | None, lang: str, content, statuses, seeds=()
) -> tuple:
    """Walk the role's pages in `lang` from / and the `seeds` (the pages the first language
    walked); (failures, pages walked, links found, addresses walked)."""
    failures: list[str] = []
    origin = urlsplit(base).netloc
    queue = deque(["/", *seeds])
    queued = set(queue)
    rendered: list[str] = []
    walked: dict[str, int] = {}  # route → query-string variants walked
    links_found: set[str] = set()
    pages = 0

    def follow(hrefs) -> None:
        for href in hrefs:
            link, _fragment = urldefrag(href)
            parts = urlsplit(link)
            if parts.netloc != origin or SKIPPED.search(parts.path):
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            links_found.add(local)
            if local not in queued:
                queued.add(local)
                queue.append(local)

    while queue:
        url = queue.popleft()
        split = urlsplit(url)
        endpoint, query = _route(app, split.path, split.query)
        if endpoint in walked and (not query or walked[endpoint] >= PAGES_PER_ROUTE):
            # A route already walked: in Japanese (the first walk) the page is still asked for,
            # without rendering, for its status and for links to routes not yet seen (the
            # candidates of the role's own request are linked only from that request).
            if lang == "ja" and url not in statuses:
                answer = page.context.request.get(base + url, max_redirects=5)
                statuses[url] = answer.status
                if answer.status >= 400:
                    failures.append(
                        f"{url} [{role or 'visitor'}]: the link answers {answer.status}"
                    )
                elif "html" in answer.headers.get("content-type", ""):
                    follow(urljoin(base + url, unescape(h)) for h in HREF.findall(answer.text()))
            continue
        walked[endpoint] = walked.get(endpoint, 0) + 1
        where = f"{url} [{role or 'visitor'}, {lang}]"
        try:
            response = page.goto(base + url)
        except PlaywrightError as error:  # a download (an attachment): only its status
            if "Download is starting" not in str(error):
                raise
            response = None
        if response is None:
            statuses[url] = page.context.request.get(base + url).status
            if statuses[url] >= 400:
                failures.append(f"{where}: answers {statuses[url]}")
            continue
        status = statuses[url] = response.status
        if status >= 400:
            failures.append(f"{where}: answers {status}")
            continue
        if "html" not in (response.headers.get("content-type") or ""):
            continue
        final = urlsplit(page.url)
        if final.path != split.path:  # redirected (to the log-in page …): walk it once
            endpoint, _query = _route(app, final.path, final.query)
            if walked.get(endpoint):
                continue
            walked[endpoint] = 1
        pages += 1
        rendered.append(url)
        shot = KEY_PAGES.get(endpoint)
        # Both widths, starting at the width the page was opened at (the last one of the page
        # before): one resize a page, not two. The pages set nothing by script at load that
        # depends on the width, so a page resized to 390 px lays out as one opened at 390 px.
        widths = [("390", PHONE), ("1280", DESKTOP)]
        if page.viewport_size == DESKTOP:
            widths.reverse()
        for index, (width, size) in enumerate(widths):
            if index:
                page.set_viewport_size(size)
            audit = page.evaluate(AUDIT_JS)
            if index == 0 and audit["lang"] != lang:
                failures.append(f"{where}: html lang={audit['lang']}")
            if size is PHONE and audit["scrollWidth"] > audit["innerWidth"]:
                failures.append(
                    f"{where} at 390 px: the page scrolls sideways ({audit['scrollWidth']} px wide)"
                )
            failures += [f"{where} at {width} px: {p}" for p in audit["problems"]]
            if lang == "ja":  # the order and the focus styles do not depend on the language
                focus = _focus_order(page, every_element=size is DESKTOP)
                failures += [f"{where} at {width} px: {p}" for p in focus]
            if shot:
                target = SCREENSHOTS / f"{shot}-{lang}-{width}.png"
                if not target.exists() or target.stat().st_mtime < _RUN_STARTED:
                    page.screenshot(path=str(target), full_page=True)
        if lang == "ja":
            words = _english_words(page.evaluate(VISIBLE_TEXT_JS), content)
            if words:
                failures.append(f"{where}: codes or English in Japanese: {', '.join(words)}")
        follow(audit["links"])
    return failures, pages, links_found, rendered


_RUN_STARTED = time.time()


@pytest.mark.parametrize("role", ROLES, ids=[r or "visitor" for r in ROLES])
def test_every_page_of_the_role_reads_right_fits_a_phone_and_is_accessible(
    live_server, browser, demo, app, role
):
    SCREENSHOTS.mkdir(exist_ok=True)
    content = _demo_content(app)
    failures: list[str] = []
    statuses: dict[str, int] = {}
    links: set[str] = set()
    started = time.perf_counter()
    counts = {}
    walked_in_japanese: list[str] = []
    for lang in ("ja", "en"):
        context = browser.new_context(locale="ja-JP" if lang == "ja" else "en-GB", viewport=PHONE)
        page = context.new_page()
        page.set_default_timeout(10_000)
        _log_in(page, live_server, role, lang)
        found, counts[lang], seen_links, rendered = _walk(
            page, app, live_server, role, lang, content, statuses, walked_in_japanese
        )
        walked_in_japanese = walked_in_japanese or rendered
        failures += found
        links |= seen_links
        # Every link the walked pages show the role answers below 400 (the walk opened one
        # page per route; the others are asked for without rendering).
        if lang == "en":
            for link in sorted(links - statuses.keys()):
                status = context.request.get(live_server + link, max_redirects=5).status
                statuses[link] = status
                if status >= 400:
                    failures.append(f"{link} [{role or 'visitor'}]: the link answers {status}")
        context.close()
    elapsed = time.perf_counter() - started
    print(
        f"\nwalk {role or 'visitor'}: {counts['ja']} + {counts['en']} pages, "
        f"{len(statuses)} addresses, {elapsed:.1f} s"
    )
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)
