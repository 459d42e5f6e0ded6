"""Browser tests of the review page (`elena-run review`): Playwright's sync API driving Debian's chromium, headless.

Run by Tests/Browser/run.sh, which builds a library with the real binary, starts the server and passes:
  REVIEW_URL          http://127.0.0.1:<port>/?token=<token>, as the server printed it
  REVIEW_LIBRARY      the library (elena.db, 3_review/, 4_approved/, rejected/, outbox/)
  REVIEW_MANIFEST     the manifest being reviewed
  REVIEW_BINARY       elena-run, for the acceptance flow's publishing run
  REVIEW_SERVER_PID   the server's pid: the acceptance flow (the last test) stops it
  REVIEW_SCREENSHOTS  where screenshots go
  REVIEW_ASSETS_FROM_DISK=1  serve the page's index.html/app.js/app.css from Sources/ElenaReview/Assets (through
                      Playwright routes) instead of the copies embedded in the binary: page work without a rebuild
Each test checks what the reviewer sees and what landed in the ledger and the folders. Tests use different items
(by position in the queue) so they do not depend on each other, except the acceptance flow, which comes last.
"""
import hashlib
import html
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

URL = os.environ["REVIEW_URL"]
_parts = urlsplit(URL)
HOST, PORT = _parts.hostname, _parts.port
TOKEN = parse_qs(_parts.query)["token"][0]
LIBRARY = Path(os.environ["REVIEW_LIBRARY"])
SHOTS = Path(os.environ.get("REVIEW_SCREENSHOTS", ".build/review-screenshots"))
ASSETS_FROM_DISK = os.environ.get("REVIEW_ASSETS_FROM_DISK") == "1"
ASSETS = Path(__file__).resolve().parents[2] / "Sources" / "ElenaReview" / "Assets"
REVIEW_FOLDERS = ("3_review", "4_approved", "5_uploaded", "rejected")
expect.set_options(timeout=10_000)


# ---------------------------------------------------------------- HTTP, ledger and folders
def request(method, path, body=None, token=True, csrf=True, headers=None, raw_body=None):
    """One request with http.client, which sends the path exactly as given (no normalisation)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = dict(headers or {})
    if token:
        h["X-Review-Token"] = TOKEN
    if csrf and method == "POST":
        h["X-CSRF-Token"] = csrf_token()
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


_csrf = []


def csrf_token():
    if not _csrf:
        status, page = request("GET", f"/?token={TOKEN}", token=False)
        assert status == 200, status
        match = re.search(rb'<meta name="csrf-token" content="([^"]*)"', page)
        assert match, "the page has no csrf-token meta tag"
        _csrf.append(html.unescape(match.group(1).decode()))
    return _csrf[0]


def queue():
    status, payload = request("GET", "/api/items")
    assert status == 200, (status, payload[:300])
    return json.loads(payload)


def items():
    return queue()["items"]


def post(path, body):
    status, payload = request("POST", path, body)
    assert status == 200, (path, body, status, payload[:300])
    return json.loads(payload)


def make_pending(*chosen):
    """Test setup through the API: the chosen items wait for review again."""
    ids = [it["id"] for it in chosen if it["decision"] != "pending"]
    if ids:
        post("/api/decisions", {"items": ids, "decision": "pending"})
    return [fresh(it) for it in chosen]


def fresh(item):
    return next(it for it in items() if it["id"] == item["id"])


def db():
    con = sqlite3.connect(LIBRARY / "elena.db", timeout=10)
    con.row_factory = sqlite3.Row
    return con


def review_row(item_id, crop_digest):
    with db() as con:
        return con.execute("SELECT decision, folder, decided_by FROM reviews WHERE item_id = ? AND crop_digest = ?",
                           (item_id, crop_digest)).fetchone()


def item_row(item_id):
    with db() as con:
        return con.execute("SELECT status, tags, price_cents, vault FROM items WHERE id = ?", (item_id,)).fetchone()


def publish_override_row(item_id):
    """The real server's per-item publish overrides (migration 0003), for diagnostics; None without the table."""
    with db() as con:
        try:
            row = con.execute("SELECT * FROM publish_overrides WHERE item_id = ?", (item_id,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return dict(row) if row else None


def metadata_landed(item_id, tags, price_cents, vault):
    """Waits for the items row to hold the values; the failure says where they went instead."""
    def check():
        row = item_row(item_id)
        return (json.loads(row["tags"]) == tags and row["price_cents"] == price_cents and row["vault"] == vault) and row
    try:
        return eventually(check, what="the items row")
    except pytest.fail.Exception:
        row = dict(item_row(item_id))
        pytest.fail(f"items row of {item_id[:12]} is {row}, expected tags={tags} price_cents={price_cents} "
                    f"vault={vault!r}; publish_overrides row: {publish_override_row(item_id)}")


def where_is(file_name):
    """The review folder that holds this review copy (searched recursively), or None."""
    for folder in REVIEW_FOLDERS:
        if any(p.is_file() for p in (LIBRARY / folder).rglob(file_name)):
            return folder
    return None


def wait_js(page, expression, timeout=10.0):
    """Polls a JavaScript expression until truthy (page.wait_for_function evaluates strings in the page, which
    the server's Content-Security-Policy, rightly, forbids)."""
    eventually(lambda: page.evaluate(expression), timeout, what=expression)


def eventually(check, timeout=10.0, what="condition"):
    """Polls `check` until it returns a truthy value; fails with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} (last value: {value!r})")
        time.sleep(0.1)


def decided(item, decision, folder):
    """Waits until the ledger holds `decision` for the item's current crop and its copy is in `folder`."""
    def check():
        row = review_row(item["id"], item["crop_digest"])
        return row is not None and row["decision"] == decision and where_is(item["file"]) == folder and row
    return eventually(check, what=f"{item['name']} {decision} in {folder}/")


# ---------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    executable = next(p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.path.exists(p))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda m: print(f"\n  console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    if ASSETS_FROM_DISK:
        serve_assets_from_disk(page)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def serve_assets_from_disk(page):
    """The working tree's page, script and style, with the template filled as the server does, over the real API."""
    def is_asset(url):
        parts = urlsplit(url)
        return parts.port == PORT and parts.path in ("/", "/app.js", "/app.css")

    def fulfill(route):
        real = route.fetch()  # the server's own answer: its status and headers (Content-Security-Policy…) stay
        if real.status != 200:
            return route.fulfill(response=real)
        path = urlsplit(route.request.url).path
        if path == "/":
            text = (ASSETS / "index.html").read_text()
            for key, value in (("TOKEN", TOKEN), ("CSRF", csrf_token()), ("DROP", queue()["drop"])):
                text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
        else:
            text = (ASSETS / path[1:]).read_text()
        route.fulfill(response=real, body=text)
    page.route(is_asset, fulfill)


def open_review(page, show="all"):
    page.goto(URL)
    page.wait_for_selector("#grid .card")
    if show != "waiting":
        page.click(f'[data-filter="{show}"]')
    return page


def card(page, item):
    return page.locator(f'.card[data-id="{item["id"]}"]')


def focus_card(page, item):
    card(page, item).locator(".info").click()
    expect(card(page, item)).to_be_focused()


def active_id(page):
    return page.evaluate("document.activeElement.closest('.card')?.dataset.id ?? null")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


# ---------------------------------------------------------------- tests
def test_grid_first_paint_and_screenshot(page):
    """The grid shows every item with status, detector result and flags; prints the time to the first card."""
    q = queue()
    open_review(page, "waiting")
    first = page.evaluate("window.reviewTimings.firstCard")
    print(f"\n  grid of {len(q['items'])} items: first card painted {first:.0f} ms after navigation start")
    expect(page.locator("#counter")).to_contain_text(f"{q['counts']['pending']} left")
    page.click('[data-filter="all"]')
    expect(page.locator("#grid .card")).to_have_count(len(q["items"]))
    for it in q["items"]:
        c = card(page, it)
        expect(c.locator(".name")).to_have_text(it["name"])
        expect(c.locator(".det")).not_to_be_empty()
        if "small_crop" in it["flags"]:
            expect(c.locator(".flags")).to_contain_text("Small crop")
    # Every thumbnail that is on screen has loaded (they are lazy: the others load when scrolled to).
    wait_js(page, "[...document.querySelectorAll('.card img')].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "grid")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shot(page, "help")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    page.set_viewport_size({"width": 420, "height": 860})
    page.wait_for_timeout(200)
    shot(page, "grid-narrow")


def test_grid_of_1000_items_speed_smoke(page):
    """Not a timed assertion: the server's queue is multiplied to 1,000 items and the figures are printed."""
    q = queue()
    base = q["items"]
    big = dict(q)
    big["items"] = []
    for i in range(1000):
        it = dict(base[i % len(base)])
        it["id"] = hashlib.sha256(f"synthetic-{i}".encode()).hexdigest()
        it["name"] = f"synthetic_{i:04d}.png"
        it["decision"] = "pending"
        big["items"].append(it)  # thumb/original/crop stay the real item's URLs
    big["counts"] = dict(q["counts"], total=1000, pending=1000, approved=0, rejected=0)
    body = json.dumps(big)
    page.route("**/api/items*", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    page.goto(URL)
    page.wait_for_selector("#grid .card")
    first = page.evaluate("window.reviewTimings.firstCard")
    expect(page.locator("#grid .card")).to_have_count(1000)
    t0 = time.monotonic()
    page.keyboard.press("End")
    expect(page.locator(".card.active .name")).to_have_text("synthetic_0999.png")
    page.keyboard.press("Home")
    expect(page.locator(".card.active .name")).to_have_text("synthetic_0000.png")
    keys = (time.monotonic() - t0) * 1000
    print(f"\n  grid of 1,000 items: first card painted {first:.0f} ms after navigation start; "
          f"End + Home answered in {keys:.0f} ms")


def test_keyboard_approve_and_move(page):
    """Focus the first card, press a: approved on the card, in the ledger and in 4_approved/; j/k/arrows move."""
    make_pending(items()[0])
    q = queue()
    waiting = [it for it in q["items"] if it["decision"] == "pending"]
    target = waiting[0]
    open_review(page, "waiting")
    assert active_id(page) == target["id"], "the first card has the focus when the page opens"
    page.keyboard.press("a")
    expect(card(page, target).locator(".status")).to_have_text(re.compile("approved", re.I))
    row = decided(target, "approved", "4_approved")
    assert row["decided_by"], "the decision records who made it"
    assert item_row(target["id"])["status"] == "approved"
    expect(page.locator("#counter")).to_contain_text(f"{len(waiting) - 1} left")
    # After a decision the focus moves on to the next waiting image; j, k and the arrows move it too.
    view = page.evaluate("[...document.querySelectorAll('#grid .card')].map(c => c.dataset.id)")
    assert view[0] == target["id"], "a decided card stays in place in the Waiting view"
    assert active_id(page) == view[1]
    page.keyboard.press("j")
    assert active_id(page) == view[2]
    page.keyboard.press("ArrowRight")
    assert active_id(page) == view[3]
    page.keyboard.press("k")
    assert active_id(page) == view[2]
    page.keyboard.press("ArrowLeft")
    assert active_id(page) == view[1]
    expect(page.locator(".card.active")).to_have_count(1)


def test_bulk_selection_reject_and_back_to_waiting(page):
    """Ctrl-click two cards and press r; checkboxes and the bulk bar; shift-click selects a range."""
    a, b = make_pending(*items()[1:3])
    open_review(page)
    card(page, a).locator(".info").click(modifiers=["Control"])
    card(page, b).locator(".info").click(modifiers=["Control"])
    expect(page.locator("#bulk")).to_be_visible()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    shot(page, "grid-selection")
    page.keyboard.press("r")
    for it in (a, b):
        expect(card(page, it).locator(".status")).to_have_text(re.compile("rejected", re.I))
        decided(it, "rejected", "rejected")
        # The item's row follows its decision in a write of its own: wait for it rather than read it once.
        eventually(lambda: item_row(it["id"])["status"] == "rejected", what=f"item {it['id'][:8]}'s row says rejected")
    expect(page.locator("#bulk")).to_be_hidden()

    # Checkboxes, then the bulk bar's button.
    card(page, a).locator(".pick input").check()
    card(page, b).locator(".pick input").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.click('#bulk [data-bulk="pending"]')
    for it in (a, b):
        expect(card(page, it).locator(".status")).to_have_text(re.compile("waiting", re.I))
        decided(it, "pending", "3_review")

    # A range: click the 2nd card, shift-click the 5th; Esc clears the selection.
    all_items = items()
    card(page, all_items[1]).locator(".info").click()
    card(page, all_items[4]).locator(".info").click(modifiers=["Shift"])
    expect(page.locator("#bulk-count")).to_have_text("4 selected")
    expect(page.locator(".card.selected")).to_have_count(4)
    page.keyboard.press("Escape")
    expect(page.locator("#bulk")).to_be_hidden()
    expect(page.locator(".card.selected")).to_have_count(0)


def test_undo_restores_pending(page):
    """a then u: the card, the ledger and the folder are back to waiting."""
    (target,) = make_pending(items()[3])
    open_review(page)
    focus_card(page, target)
    page.keyboard.press("a")
    decided(target, "approved", "4_approved")
    expect(card(page, target).locator(".status")).to_have_text(re.compile("approved", re.I))
    page.keyboard.press("u")
    expect(page.locator("#toast")).to_contain_text("Undone")
    expect(card(page, target).locator(".status")).to_have_text(re.compile("waiting", re.I))
    decided(target, "pending", "3_review")
    assert item_row(target["id"])["status"] == "in_review"
    drop = queue()["drop"]
    assert (LIBRARY / "3_review" / drop / target["file"]).is_file()


def test_tags_price_vault(page):
    """t opens the editor; the values land in the items table; only the changed fields are sent for a selection."""
    one, two = items()[4], items()[5]
    open_review(page)
    focus_card(page, one)
    page.keyboard.press("t")
    expect(page.locator("#meta-dialog")).to_be_visible()
    expect(page.locator("#meta-tags")).to_be_focused()
    page.fill("#meta-tags", "beach, sunset , beach")
    page.fill("#meta-price", "15.5")
    page.fill("#meta-vault", "elena-vip")
    shot(page, "tags-dialog")
    page.click("#meta-save")
    expect(page.locator("#meta-dialog")).to_be_hidden()
    expect(card(page, one).locator(".md")).to_have_text("$15.50 · elena-vip · beach, sunset")
    metadata_landed(one["id"], ["beach", "sunset"], 1550, "elena-vip")

    # A price under 3.00 is refused in the dialog and never sent.
    page.keyboard.press("t")
    page.fill("#meta-price", "2")
    page.click("#meta-save")
    expect(page.locator("#meta-error")).to_contain_text("at least 3.00")
    page.keyboard.press("Escape")
    expect(page.locator("#meta-dialog")).to_be_hidden()
    assert fresh(one)["price"] == 15.5

    # Two selected: only the vault changes; each keeps its own tags and price.
    before_two = fresh(two)
    card(page, one).locator(".pick input").check()
    card(page, two).locator(".pick input").check()
    page.keyboard.press("t")
    expect(page.locator("#meta-for")).to_have_text("For 2 images")
    page.fill("#meta-vault", "elena-free")
    page.click("#meta-save")
    expect(page.locator("#meta-dialog")).to_be_hidden()
    metadata_landed(one["id"], ["beach", "sunset"], 1550, "elena-free")
    metadata_landed(two["id"], before_two["tags"], round(before_two["price"] * 100), "elena-free")
    after_two = fresh(two)
    assert (after_two["tags"], after_two["price"], after_two["vault"]) == (before_two["tags"], before_two["price"], "elena-free")


def test_server_error_shows_a_dismissible_banner(page):
    """An error answer is shown in a banner (its sentence), which can be dismissed; nothing changes."""
    (target,) = make_pending(items()[2])
    open_review(page)
    page.route("**/api/decisions", lambda route: route.fulfill(
        status=400, content_type="application/json", body=json.dumps({"error": "Simulated refusal for the test."})))
    focus_card(page, target)
    page.keyboard.press("a")
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-text")).to_contain_text("Simulated refusal for the test.")
    shot(page, "error-banner")
    page.click("#banner-close")
    expect(page.locator("#banner")).to_be_hidden()
    expect(card(page, target).locator(".status")).to_have_text(re.compile("waiting", re.I))
    assert review_row(target["id"], target["crop_digest"])["decision"] == "pending"


def test_drag_the_cut_line_recrops(page):
    """Drag the line in the detail view: POST /api/recrop, a new crop shown, the override stored, pending again."""
    target = items()[5]
    post("/api/decisions", {"items": [target["id"]], "decision": "approved"})
    target = fresh(target)
    open_review(page)
    focus_card(page, target)
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    expect(dialog).to_be_visible()
    expect(page.locator("#d-name")).to_have_text(target["name"])
    expect(page.locator("#d-lineage")).not_to_be_empty()
    wait_js(page, "['d-orig', 'd-crop'].every(id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0; })")
    shot(page, "detail")
    old_src = page.get_attribute("#d-crop", "src")

    stage = page.locator("#d-stage").bounding_box()
    cut = page.locator("#d-cut").bounding_box()
    x, y = cut["x"] + cut["width"] / 2, cut["y"] + cut["height"] / 2
    old_fraction = (y - stage["y"]) / stage["height"]
    assert abs(old_fraction - target["line"] / target["height"]) < 0.01, "the line is drawn where the server says"
    new_y = y + 0.12 * stage["height"]
    expected = (new_y - stage["y"]) / stage["height"]
    with page.expect_response(lambda r: r.url.endswith("/api/recrop") and r.request.method == "POST") as answer:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, new_y, steps=10)
        page.mouse.up()
    sent = answer.value.request.post_data_json
    assert answer.value.status == 200, answer.value.text()
    assert sent["item"] == target["id"]
    assert abs(sent["line"] - expected) < 0.01, (sent, expected)

    # The new crop is shown: its URL (which carries the digest) changed and the image loaded.
    expect(page.locator("#d-crop")).not_to_have_attribute("src", old_src)
    wait_js(page, "(() => { const i = document.getElementById('d-crop'); return i.complete && i.naturalWidth > 0; })()")
    after = fresh(target)
    assert after["crop_digest"] != target["crop_digest"]
    assert page.get_attribute("#d-crop", "data-digest") == after["crop_digest"]
    assert after["decision"] == "pending"
    assert "human_override" in after["flags"]
    assert abs(after["line"] / after["height"] - sent["line"]) < 0.01
    expect(page.locator("#d-status")).to_have_text(re.compile("waiting", re.I))
    with db() as con:
        override = con.execute("SELECT line_fraction FROM crop_overrides WHERE item_id = ?", (target["id"],)).fetchone()
    assert override is not None and abs(override[0] - sent["line"]) < 1e-6, override
    decided(after, "pending", "3_review")
    assert item_row(target["id"])["status"] == "in_review"
    shot(page, "detail-recropped")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(card(page, after).locator(".status")).to_have_text(re.compile("waiting", re.I))
    assert after["crop_digest"][:16] in card(page, after).locator("img").get_attribute("src")


def test_near_identical_pictures_are_shown_together_and_g_keeps_one(page):
    """run.sh adds a re-encoded copy of ComfyUI_00006_.png (named to sort last): the API groups the two, the grid
    shows them side by side under the group's badge, and g on the copy keeps it and rejects the original (in the
    ledger, through the decision endpoint, and in rejected/)."""
    q = queue()
    grouped = [it for it in q["items"] if it["group"]]
    assert sorted(it["name"] for it in grouped) == ["ComfyUI_00006_.png", "retake_ComfyUI_00006_.png"], grouped
    original, copy = make_pending(*sorted(grouped, key=lambda it: it["name"]))
    assert original["group"] == copy["group"] == {"id": original["id"], "size": 2, "members": [original["id"], copy["id"]]}
    order = [it["id"] for it in q["items"]]
    assert order.index(copy["id"]) > order.index(original["id"]) + 1, "apart in the queue's order"

    open_review(page)
    view = page.evaluate("[...document.querySelectorAll('#grid .card')].map(c => c.dataset.id)")
    at = view.index(original["id"])
    assert view[at + 1] == copy["id"], "the copy is shown right after its original"
    assert [i for i in view if i not in (original["id"], copy["id"])] == [i for i in order if i not in (original["id"], copy["id"])]
    for number, it in enumerate((original, copy), 1):
        expect(card(page, it).locator(".group")).to_contain_text(f"{number} of 2 near-identical: keep the best, reject the rest")
    expect(card(page, q["items"][0]).locator(".group")).to_have_count(0)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("keep the focused one and reject the rest of its group")
    page.keyboard.press("Escape")
    shot(page, "grid-near-identical")

    focus_card(page, copy)
    with page.expect_response(lambda r: r.url.endswith("/api/decisions") and r.request.method == "POST") as answer:
        page.keyboard.press("g")
    assert answer.value.request.post_data_json == {"items": [original["id"]], "decision": "rejected"}
    expect(card(page, original).locator(".status")).to_have_text(re.compile("rejected", re.I))
    row = decided(original, "rejected", "rejected")
    assert row["decided_by"] == "page", dict(row)
    assert review_row(copy["id"], copy["crop_digest"])["decision"] == "pending", "the kept one keeps its decision"
    assert where_is(copy["file"]) == "3_review"
    assert (fresh(original)["decision"], fresh(copy)["decision"]) == ("rejected", "pending")
    expect(card(page, copy).locator(".status")).to_have_text(re.compile("waiting", re.I))
    assert active_id(page) == copy["id"], "the focus stays on the kept one (a approves it next)"
    expect(page.locator("#toast-text")).to_contain_text("Kept retake_ComfyUI_00006_.png; rejected 1 near-identical")


def test_a_near_duplicate_says_which_picture_it_looks_like(page):
    """An item a run found to look like an approved or published picture names it, on its card and in the detail view
    (the queue is the server's, with one item given its look-alike as API.md shows)."""
    q = queue()
    target = q["items"][2]
    marked = dict(q)
    marked["items"] = [dict(it, looks_like={"id": "f" * 64, "name": "ComfyUI_00003_.png", "drop": "drop-02", "status": "published"})
                       if it["id"] == target["id"] else it for it in q["items"]]
    body = json.dumps(marked)
    page.route("**/api/items*", lambda route: route.fulfill(status=200, content_type="application/json", body=body))
    open_review(page)
    expect(card(page, target).locator(".looks")).to_have_text("Looks like ComfyUI_00003_.png (drop drop-02, published)")
    expect(card(page, q["items"][3]).locator(".looks")).to_have_count(0)
    card(page, target).locator(".thumb").click()
    expect(page.locator("#d-facts")).to_contain_text("ComfyUI_00003_.png (drop drop-02, published)")


def test_token_csrf_and_paths(page):
    """403 without the token or with a wrong CSRF value; no path ever reaches the database's bytes; 400/404 rules."""
    target = items()[6]
    item_id = target["id"]
    database = (LIBRARY / "elena.db").read_bytes()[:100]
    for path in ("/", "/api/items", f"/thumbs/{item_id}.jpg", f"/images/{item_id}/crop.jpg",
                 f"/images/{item_id}/original.jpg", "/app.js", "/app.css"):
        assert request("GET", path, token=False)[0] == 403, f"GET {path} without a token"
        sep = "&" if "?" in path else "?"
        assert request("GET", f"{path}{sep}token=wrong-{TOKEN}", token=False)[0] == 403, f"GET {path} wrong token"
        assert request("GET", path, token=False, headers={"X-Review-Token": "x" + TOKEN})[0] == 403
    before = review_row(item_id, target["crop_digest"])["decision"]
    body = {"items": [item_id], "decision": "rejected" if before != "rejected" else "approved"}
    assert request("POST", "/api/decisions", body, csrf=False)[0] == 403, "POST without CSRF"
    assert request("POST", "/api/decisions", body, csrf=False, headers={"X-CSRF-Token": "wrong"})[0] == 403
    assert request("POST", "/api/decisions", body, token=False)[0] == 403, "POST without the token"
    assert request("POST", "/api/undo", None, csrf=False)[0] == 403
    assert review_row(item_id, target["crop_digest"])["decision"] == before, "a refused POST changed nothing"

    probes = [
        "/thumbs/../../elena.db", "/thumbs/..%2f..%2felena.db", "/thumbs/%2e%2e/%2e%2e/elena.db",
        "/thumbs/%2e%2e%2f%2e%2e%2felena.db", "/thumbs/..%5c..%5celena.db", "/thumbs/%252e%252e%252felena.db",
        f"/thumbs/{item_id}.jpg/../../elena.db", "/thumbs/../elena.db.jpg",
        "/images/%2e%2e%2felena.db/original.jpg", "/images/..%2f..%2felena.db/crop.jpg",
        f"/images/{item_id}/../../elena.db", f"/images/{item_id}/..%2f..%2f..%2felena.db",
        f"/images/{item_id}/%2e%2e%2f%2e%2e%2felena.db", "/images/../elena.db/crop.jpg",
        "/app.js/../elena.db", "/app.js/..%2felena.db", "/app.css/%2e%2e/elena.db",
        "/elena.db", "/%2e%2e/elena.db", "/./elena.db", "//elena.db", "/api/../elena.db", "/api/items/../../elena.db",
        "/3_review/", "/1_raw/", "/thumbs/", "/images/",
    ]
    for path in probes:
        for with_query in (False, True):
            p = f"{path}?token={TOKEN}" if with_query else path
            status, payload = request("GET", p)
            assert status in (403, 404), f"GET {p}: {status}"
            assert not payload.startswith(b"SQLite format 3") and database not in payload, f"GET {p} leaked the database"

    # The contract's error answers.
    status, payload = request("POST", "/api/decisions", raw_body=b"{not json")
    assert status == 400 and "error" in json.loads(payload), (status, payload)
    status, payload = request("POST", "/api/decisions", {"items": [item_id], "decision": "maybe"})
    assert status == 400 and "error" in json.loads(payload), (status, payload)
    status, payload = request("POST", "/api/metadata", {"items": [item_id], "price": 2.5})
    assert status == 400 and "error" in json.loads(payload), (status, payload)
    for line in (0.95, 1.2, -0.1):
        status, payload = request("POST", "/api/recrop", {"item": item_id, "line": line})
        assert status == 400 and "error" in json.loads(payload), (line, status, payload)
    status, _ = request("POST", "/api/decisions", {"items": ["0" * 64], "decision": "approved"})
    assert status == 404
    assert request("GET", f"/thumbs/{'0' * 64}.jpg")[0] == 404
    # A unique prefix of at least 12 characters names an item too.
    status, payload = request("GET", f"/thumbs/{item_id[:12]}.jpg")
    assert status == 200 and len(payload) > 100
    assert review_row(item_id, target["crop_digest"])["decision"] == before


def test_folder_move_behind_the_page(page):
    """Python moves a copy from 3_review/ to 4_approved/ while the page is open: the page shows it after a poll."""
    (target,) = make_pending(items()[6])
    open_review(page)
    expect(card(page, target).locator(".status")).to_have_text(re.compile("waiting", re.I))
    drop = queue()["drop"]
    source = LIBRARY / "3_review" / drop / target["file"]
    assert source.is_file(), source
    (LIBRARY / "4_approved").mkdir(exist_ok=True)
    source.rename(LIBRARY / "4_approved" / target["file"])
    started = time.monotonic()
    expect(card(page, target).locator(".status")).to_have_text(re.compile("approved", re.I), timeout=12_000)
    print(f"\n  the folder move appeared on the page after {time.monotonic() - started:.1f} s")
    row = review_row(target["id"], target["crop_digest"])
    assert row["decision"] == "approved" and row["folder"] == "4_approved", dict(row)
    assert row["decided_by"] == "folder", dict(row)


def stop_server():
    pid = int(os.environ["REVIEW_SERVER_PID"])
    os.kill(pid, signal.SIGTERM)

    def gone():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            state = "gone"
        if state not in ("gone", "Z"):
            return False
        try:
            socket.create_connection((HOST, PORT), timeout=0.5).close()
            return False
        except OSError:
            return True
    eventually(gone, timeout=15, what="the review server to stop")


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + length
    raise AssertionError("no SOF marker")


def run_drop(manifest_text):
    """Writes the manifest and runs the drop with the binary while the page stays open."""
    Path(os.environ["REVIEW_MANIFEST"]).write_text(manifest_text)
    env = {k: v for k, v in os.environ.items() if k not in ("ELENA_LIBRARY", "DATABASE_URL")}
    run = subprocess.run([os.environ["REVIEW_BINARY"], os.environ["REVIEW_MANIFEST"]], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 3), run.stdout + run.stderr


def thumbnail_of(item):
    """The grid thumbnail the server serves for an item: its bytes and the crop it says it was made from."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    conn.request("GET", f"{item['thumb']}&token={TOKEN}")
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200, response.status
    return data, response.getheader("X-Crop-Digest")


def test_thumbnails_show_the_crop_after_a_settings_flip_flop(page):
    """The grid shows the crop that would be published, also after the manifest went 0.30 -> 0.20 -> 0.30 (the last
    run is all cache hits); the original with the cut line is a hover away."""
    manifest = Path(os.environ["REVIEW_MANIFEST"])
    original = manifest.read_text()
    assert "top_fraction: 0.30" in original
    make_pending(*items())  # the runs below must publish nothing (the acceptance flow counts what is published)
    target = items()[8]
    before = target["crop_digest"]
    try:
        run_drop(original.replace("top_fraction: 0.30", "top_fraction: 0.20"))
        changed = fresh(target)
        assert changed["crop_digest"] != before, "0.20 cuts other bytes"
        run_drop(original)
    finally:
        manifest.write_text(original)
    now = fresh(target)
    assert now["crop_digest"] == before, "the 0.30 crop is back"
    path = LIBRARY / ("3_review/" + queue()["drop"] if now["folder"] == "3_review" else now["folder"])
    copy = next(path.rglob(now["file"]))
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before, "the review copy is that crop"
    data, made_from = thumbnail_of(now)
    assert made_from == before, "the thumbnail is made from the crop in review"
    width, height = jpeg_size(data)
    crop_width, crop_height = jpeg_size(copy.read_bytes())
    assert abs(height / width - crop_height / crop_width) < 0.02, ((width, height), (crop_width, crop_height))

    open_review(page)
    img = card(page, now).locator(".thumb img")
    expect(img).to_have_attribute("src", re.compile(re.escape(now["thumb"].split("?")[0])))
    card(page, now).locator(".thumb").hover()
    expect(img).to_have_attribute("src", re.compile(re.escape(now["cut"].split("?")[0])))
    shot(page, "grid-hover-cut")
    page.mouse.move(0, 0)
    expect(img).to_have_attribute("src", re.compile(re.escape(now["thumb"].split("?")[0]) + r"\?"))
    focus_card(page, now)
    page.keyboard.press("o")
    expect(card(page, now).locator(".thumb img")).to_have_attribute("src", re.compile(re.escape(now["cut"].split("?")[0])))
    page.keyboard.press("o")
    expect(card(page, now).locator(".thumb img")).to_have_attribute("src", re.compile(re.escape(now["thumb"].split("?")[0]) + r"\?"))


def test_acceptance_approve_3_reject_1_then_publish(page):
    """Approve 3 and reject 1 in the browser, stop the server, run the drop: the outbox holds exactly those 3."""
    q = queue()
    drop = q["drop"]
    make_pending(*q["items"])
    q = queue()
    assert q["counts"]["pending"] == len(q["items"])
    open_review(page, "waiting")
    chosen = q["items"][:4]
    assert active_id(page) == chosen[0]["id"]
    # A price and tags set on the page are what gets published.
    page.keyboard.press("t")
    page.fill("#meta-tags", "mirror, gold")
    page.fill("#meta-price", "25")
    page.click("#meta-save")
    expect(page.locator("#meta-dialog")).to_be_hidden()
    expect(card(page, chosen[0]).locator(".md")).to_contain_text("$25.00")
    assert active_id(page) == chosen[0]["id"]
    for _ in range(3):
        page.keyboard.press("a")  # approves and moves on to the next waiting image
    for it in chosen[:3]:
        expect(card(page, it).locator(".status")).to_have_text(re.compile("approved", re.I))
    card(page, chosen[3]).locator('button[data-act="rejected"]').click()
    expect(card(page, chosen[3]).locator(".status")).to_have_text(re.compile("rejected", re.I))
    expect(page.locator("#counter")).to_contain_text(f"{len(q['items']) - 4} left")
    for it in chosen[:3]:
        decided(it, "approved", "4_approved")
    decided(chosen[3], "rejected", "rejected")
    shot(page, "grid-decided")

    stop_server()
    env = {k: v for k, v in os.environ.items() if k not in ("ELENA_LIBRARY", "DATABASE_URL")}
    run = subprocess.run([os.environ["REVIEW_BINARY"], os.environ["REVIEW_MANIFEST"]], env=env,
                         capture_output=True, text=True, timeout=300)
    print("\n" + run.stdout + run.stderr)
    assert run.returncode == 3, f"exit {run.returncode}: items other than the 4 decided ones still wait"
    outbox = LIBRARY / "outbox" / drop
    published = sorted(p.name for p in outbox.iterdir() if not p.name.endswith(".json"))
    assert sorted(Path(p).stem for p in published) == sorted(Path(it["name"]).stem for it in chosen[:3]), published
    for name in published:
        assert (outbox / f"{name}.json").is_file(), f"{name} has its sidecar"
    first = next(n for n in published if Path(n).stem == Path(chosen[0]["name"]).stem)
    sidecar = json.loads((outbox / f"{first}.json").read_text())
    assert (sidecar["price"], sidecar["tags"]) == (25, ["mirror", "gold"]), sidecar
    with db() as con:
        for it in chosen[:3]:
            row = con.execute("SELECT status FROM items WHERE id = ?", (it["id"],)).fetchone()
            assert row["status"] == "published", (it["name"], row["status"])
        assert con.execute("SELECT status FROM items WHERE id = ?", (chosen[3]["id"],)).fetchone()["status"] == "rejected"
