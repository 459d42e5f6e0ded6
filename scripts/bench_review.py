#!/usr/bin/env python3
"""Review page figures for `make bench`: time to the first painted card of a real 1,000-item queue in headless
Chromium, and the time to serve its 1,000 thumbnails (cold: made from the originals; warm: from the disk cache).

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
        firsts = []
        for _ in range(3):
            page.goto(url)
            # The page's CSP forbids eval, so poll with evaluate() instead of wait_for_function.
            deadline = time.monotonic() + 30
            first = None
            while time.monotonic() < deadline:
                first = page.evaluate("() => window.reviewTimings && window.reviewTimings.firstCard")
                if first:
                    break
                time.sleep(0.02)
            if not first:
                raise SystemExit("the grid painted no card within 30 s")
            firsts.append(first)
        browser.close()
    firsts.sort()
    print(f"grid_items {len(items)}")
    print(f"first_card_ms {firsts[len(firsts) // 2]:.0f}")

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
