#!/usr/bin/env python3
"""Review page figures for `make bench`, on a real queue in headless Chromium: time to the first painted card,
time until every page of the queue is in, the time a key press takes to show its decision, and the time to serve
the first 1,000 thumbnails (cold: made from the originals; warm: from the disk cache).

  bench_review.py URL        (the URL `elena-run review --no-browser` printed)
"""
import concurrent.futures
import json
import sys
import time
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright


def main():
    url = sys.argv[1]
    parts = urllib.parse.urlsplit(url)
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    base = f"{parts.scheme}://{parts.netloc}"
    with urllib.request.urlopen(f"{base}/api/items?token={token}") as answer:
        items = json.load(answer)["items"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        firsts, loads = [], []

        def timing(name):
            # The page's CSP forbids eval, so poll with evaluate() instead of wait_for_function.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                value = page.evaluate(f"() => window.reviewTimings && window.reviewTimings.{name}")
                if value:
                    return value
                time.sleep(0.02)
            raise SystemExit(f"the page did not reach '{name}' within 60 s")

        for _ in range(3):
            page.goto(url)
            firsts.append(timing("firstCard"))
            loads.append(timing("loaded"))
        # A key press on the first card: the time until the card shows the decision (the server answered).
        card = page.locator("#grid .card").first
        card.focus()
        start = time.perf_counter()
        page.keyboard.press("a")
        card.locator(".status").filter(has_text="pproved").wait_for(timeout=60000)
        decision_ms = (time.perf_counter() - start) * 1000
        page.keyboard.press("u")  # undo, so a second run starts from the same queue
        browser.close()
    firsts.sort()
    loads.sort()
    print(f"grid_items {len(items)}")
    print(f"first_card_ms {firsts[len(firsts) // 2]:.0f}")
    print(f"all_pages_ms {loads[len(loads) // 2]:.0f}")
    print(f"decision_ms {decision_ms:.0f}")
    items = items[:1000]

    def fetch(item):
        with urllib.request.urlopen(f"{base}{item['thumb']}&token={token}") as answer:
            return len(answer.read())

    for label in ("cold", "warm"):
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            sizes = list(pool.map(fetch, items))
        elapsed = time.perf_counter() - start
        print(f"thumbnails_{label}_ms {elapsed * 1000:.0f} ({len(sizes)} thumbnails, {sum(sizes) // 1024} KiB)")


if __name__ == "__main__":
    main()
