#!/usr/bin/env python3
"""A development mock of `elena-run review`'s HTTP API (Sources/ElenaReview/API.md), Python stdlib only.

    python3 Tests/Browser/mock_server.py [--items 40] [--port 0] [--library DIR] [--drop demo]

It prints `Review page: http://127.0.0.1:<port>/?token=<token>` and serves the real assets
(Sources/ElenaReview/Assets, read on every request, with the template placeholders filled), the same routes, JSON
and 403/404/400 rules as API.md, and placeholder PNG images drawn with zlib (a figure; the thumbnail dims the
removed part and draws the cut line). State is kept in memory. With --library it is also mirrored the way the real
server does it, so the browser tests can run against the mock: review copies move between
<library>/3_review/<drop>/, 4_approved/<drop>/ and rejected/<drop>/, and <library>/elena.db (the project's SQLite
migrations) gets the items, reviews, events and crop_overrides rows; files moved behind the page's back are
picked up by the next GET /api/items.
"""
import argparse
import hashlib
import hmac
import html
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "Sources" / "ElenaReview" / "Assets"
MIGRATIONS = ROOT / "schema" / "sql" / "sqlite"
FOLDER_OF = {"pending": "3_review", "approved": "4_approved", "rejected": "rejected"}
DECISION_OF = {"3_review": "pending", "4_approved": "approved", "5_uploaded": "approved", "rejected": "rejected"}
ID = r"([0-9a-f]{12,64})"
MIN_HEIGHT = 700


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


# ---------------------------------------------------------------- images (PNG with zlib, drawn row by row)
def png(width, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    height = len(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


DIM = bytes(int(v * 0.38) for v in range(256))
RED = bytes((235, 64, 52))


def scene_row(fy, width, palette):
    """One row of the placeholder picture at height fraction fy: a background gradient and a figure."""
    top, bottom, skin, dress = palette
    bg = bytes(int(a + (b - a) * fy) for a, b in zip(top, bottom))
    row = bytearray(bg * width)

    def span(x0, x1, colour):
        a, b = max(0, int(x0 * width)), min(width, int(x1 * width))
        if b > a:
            row[a * 3:b * 3] = colour * (b - a)

    dy = (fy - 0.17) / 0.075
    if abs(dy) < 1:  # the head (the part a crop must remove)
        half = 0.085 * math.sqrt(1 - dy * dy)
        span(0.5 - half, 0.5 + half, skin)
        if abs(fy - 0.155) < 0.008:  # eyes
            span(0.46, 0.48, b"\x30\x30\x30")
            span(0.52, 0.54, b"\x30\x30\x30")
        if abs(fy - 0.205) < 0.005:  # mouth
            span(0.475, 0.525, b"\xb0\x40\x50")
    elif 0.24 <= fy < 0.28:
        span(0.465, 0.535, skin)
    if fy >= 0.27:
        half = 0.13 + 0.17 * min(1.0, (fy - 0.27) / 0.3)
        span(0.5 - half, 0.5 + half, dress)
    return row


class Item:
    """One item of the mock queue, with the same fields as API.md's items."""

    def __init__(self, index, drop):
        self.index = index
        self.name = f"ComfyUI_{index + 1:05d}_.png" if index % 9 != 8 else f"phone_{index + 1:04d}.jpg"
        self.id = hashlib.sha256(f"{drop}/{self.name}".encode()).hexdigest()
        self.width, self.height = [(832, 1216), (1024, 1536), (768, 1152), (896, 1152), (512, 768)][index % 5]
        self.no_face = index % 7 == 3
        self.faces = 0 if self.no_face else (2 if index % 11 == 5 else 1)
        self.strategy = "no_face"
        self.reason = ("no face found; fallback top_fraction 0.3" if self.no_face
                       else f"below the lowest chin of {self.faces} face(s) + margin 0.02")
        self.detector = "mediapipe-blazeface-short+facemesh-468 (onnx)"
        self.auto_line = round(self.height * (0.30 if self.no_face else 0.245))
        self.override = None  # a human line, as a fraction of the height
        self.decision, self.folder, self.decided_by = "pending", "3_review", None
        self.tags, self.price, self.vault = ["dress", "portrait"], 12.0 if index % 4 else 20.0, "elena-ppv"
        hue = (index * 47) % 360
        self.palette = (hsv(hue, 0.18, 0.93), hsv(hue, 0.28, 0.62), bytes((226, 189, 164)), hsv(hue + 180, 0.55, 0.7))
        self.lineage = None if index % 6 == 5 else {
            "seed": 884213377 + index * 7919, "positive": "photo of a woman in a summer dress, mirror selfie, soft window light",
            "negative": "blurry, extra fingers, deformed hands, watermark", "checkpoint": "bigLust_v16.safetensors",
            "loras": [{"name": "elena_body_v3", "strengthModel": 0.8, "strengthClip": 0.7},
                      {"name": "film_grain", "strengthModel": 0.35, "strengthClip": 0.35}],
            "width": self.width, "height": self.height, "steps": 28, "cfg": 5.5, "sampler": "dpmpp_2m", "scheduler": "karras"}

    @property
    def line(self):
        return round(self.override * self.height) if self.override is not None else self.auto_line

    @property
    def rect(self):
        """The kept part below the line, 4:5 (width:height), as large as fits, centred."""
        available = self.height - self.line
        if self.width / available > 0.8:
            w = round(available * 0.8)
            return {"x": (self.width - w) // 2, "y": self.line, "width": w, "height": available}
        return {"x": 0, "y": self.line, "width": self.width, "height": round(self.width / 0.8)}

    @property
    def crop_digest(self):
        return hashlib.sha256(f"{self.id}:{self.line}".encode()).hexdigest()

    @property
    def flags(self):
        flags = []
        if self.no_face:
            flags.append("no_face_found")
        if self.faces > 1:
            flags.append("multiple_faces")
        if self.rect["height"] < MIN_HEIGHT:
            flags.append("small_crop")
        if self.override is not None:
            flags.append("human_override")
        return flags

    @property
    def file(self):
        return f"{Path(self.name).stem}.{self.crop_digest[:8]}.jpg"

    @property
    def status(self):
        return {"pending": "in_review", "approved": "approved", "rejected": "rejected"}[self.decision]

    def to_json(self):
        return {
            "id": self.id, "name": self.name, "decision": self.decision, "status": self.status, "flags": self.flags,
            "strategy": self.strategy, "reason": self.reason, "detector": self.detector, "faces": self.faces,
            "width": self.width, "height": self.height, "line": self.line, "rect": self.rect,
            "crop_digest": self.crop_digest, "file": self.file, "folder": self.folder,
            "tags": self.tags, "price": self.price, "vault": self.vault, "lineage": self.lineage,
            "thumb": f"/thumbs/{self.id}.jpg", "original": f"/images/{self.id}/original.jpg",
            "crop": f"/images/{self.id}/crop.jpg",
        }

    # Images: the thumbnail is 320 px wide like the real one; the others are kept small for speed.
    def thumb(self):
        w = 320
        h = round(w * self.height / self.width)
        r = self.rect
        line = round(self.line * h / self.height)
        x0, x1 = round(r["x"] * w / self.width), round((r["x"] + r["width"]) * w / self.width)
        y1 = round((r["y"] + r["height"]) * h / self.height)
        rows = []
        for y in range(h):
            row = scene_row(y / h, w, self.palette)
            if y < line or y >= y1:
                row = bytearray(bytes(row).translate(DIM))
            else:
                row[:x0 * 3] = bytes(row[:x0 * 3]).translate(DIM)
                row[x1 * 3:] = bytes(row[x1 * 3:]).translate(DIM)
            if line - 1 <= y <= line + 1:
                row = bytearray(RED * w)
            rows.append(row)
        return png(w, rows)

    def original(self):
        w = min(self.width, 640)
        h = round(w * self.height / self.width)
        return png(w, [scene_row(y / h, w, self.palette) for y in range(h)])

    def crop(self):
        r = self.rect
        scale = min(1.0, 480 / r["width"])
        full_w = round(self.width * scale)
        x0, w = round(r["x"] * scale), round(r["width"] * scale)
        h = round(r["height"] * scale)
        return png(w, [scene_row((r["y"] + y / scale) / self.height, full_w, self.palette)[x0 * 3:(x0 + w) * 3]
                       for y in range(h)])


def hsv(h, s, v):
    h = (h % 360) / 60
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h) % 6]
    return bytes(int((a + v - c) * 255) for a in (r, g, b))


# ---------------------------------------------------------------- the queue, and its mirror in a library
class Queue:
    def __init__(self, count, drop, library=None):
        self.drop = drop
        self.items = sorted((Item(i, drop) for i in range(count)), key=lambda it: it.name)
        self.by_id = {it.id: it for it in self.items}
        self.undo_stack = []
        self.lock = threading.RLock()
        self.library = Path(library) if library else None
        self.db = None
        self.images = {}  # (kind, id, crop digest) -> bytes
        if self.library:
            self._open_library()

    def resolve(self, ref):
        if len(ref) == 64:
            return self.by_id.get(ref)
        found = [it for it in self.items if it.id.startswith(ref)]
        return found[0] if len(found) == 1 else None

    def image(self, kind, item):
        key = (kind, item.id, item.crop_digest)
        if key not in self.images:
            if len(self.images) > 3000:
                self.images.clear()
            self.images[key] = getattr(item, kind)()
        return self.images[key]

    def counts(self):
        c = {"total": len(self.items), "pending": 0, "approved": 0, "rejected": 0}
        for it in self.items:
            c[it.decision] += 1
        c["flagged"] = sum(1 for it in self.items if any(f != "human_override" for f in it.flags))
        return c

    def queue(self):
        self.reconcile()
        return {"drop": self.drop, "manifest": f"pipelines/{self.drop}.yaml", "counts": self.counts(),
                "items": [it.to_json() for it in self.items]}

    def snapshot(self, it):
        return (it.id, it.decision, list(it.tags), it.price, it.vault)

    def decide(self, items, decision, by="review-page"):
        self.undo_stack.append((f"{decision} for {len(items)} item(s)", [self.snapshot(it) for it in items]))
        for it in items:
            self._set_decision(it, decision, by)
        return items

    def metadata(self, items, tags, price, vault):
        self.undo_stack.append((f"tags/price/vault for {len(items)} item(s)", [self.snapshot(it) for it in items]))
        for it in items:
            if tags is not None:
                it.tags = tags
            if price is not None:
                it.price = price
            if vault is not None:
                it.vault = vault
            self._save_item(it, "review.metadata", f"{it.name}: tags {it.tags}, price {it.price}, vault {it.vault}")
        return items

    def undo(self):
        if not self.undo_stack:
            return None, []
        what, snapshots = self.undo_stack.pop()
        items = []
        for item_id, decision, tags, price, vault in snapshots:
            it = self.by_id[item_id]
            it.tags, it.price, it.vault = tags, price, vault
            self._save_item(it, "review.undo", f"{it.name}: undo {what}")
            if it.decision != decision:
                self._set_decision(it, decision, "review-page")
            items.append(it)
        return what, items

    def recrop(self, it, fraction):
        old_path = self._copy_path(it)
        it.override = fraction
        it.decision, it.folder, it.decided_by = "pending", "3_review", None
        if self.db:
            if old_path and old_path.exists():
                old_path.unlink()
            self._write_copy(it)
            t = now()
            self.db.execute("INSERT INTO crop_overrides (item_id, line_fraction, set_by, set_at) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT (item_id) DO UPDATE SET line_fraction = excluded.line_fraction, "
                            "set_at = excluded.set_at", (it.id, fraction, "review-page", t))
            self._save_review(it)
            self._save_item(it, "review.recrop", f"{it.name}: recropped at {fraction:.4f} of the height")
        return it

    # -------- the mirror in a library (only with --library)
    def _open_library(self):
        for folder in ("1_raw", "2_cropped", "3_review", "4_approved", "5_uploaded", "rejected", "outbox"):
            (self.library / folder).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.library / "elena.db", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        if not self.db.execute("SELECT name FROM sqlite_master WHERE name = 'items'").fetchone():
            for migration in sorted(MIGRATIONS.glob("*.sql")):
                self.db.executescript(migration.read_text())
        t = now()
        for it in self.items:
            self.db.execute(
                "INSERT OR REPLACE INTO items (id, drop_name, original_name, original_path, cropped_name, cropped_digest,"
                " status, vault, tags, price_cents, width, height, lineage, flags, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (it.id, self.drop, it.name, f"mock/{it.name}", it.file, it.crop_digest, it.status, it.vault,
                 json.dumps(it.tags), round(it.price * 100), it.width, it.height,
                 json.dumps(it.lineage) if it.lineage else None, json.dumps(it.flags), t, t))
            self._write_copy(it)
            self._save_review(it)

    def _index(self):
        """Every review copy in the library's review folders (searched recursively), by file name."""
        found = {}
        for folder in ("5_uploaded", "rejected", "4_approved", "3_review"):  # a decided copy wins over 3_review
            for dirpath, _, files in os.walk(self.library / folder):
                for name in files:
                    found.setdefault(name, Path(dirpath) / name)
        return found

    def _copy_path(self, it, index=None):
        if not self.library:
            return None
        return (index if index is not None else self._index()).get(it.file)

    def _write_copy(self, it):
        target = self.library / FOLDER_OF[it.decision] / self.drop / it.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.image("crop", it))

    def _set_decision(self, it, decision, by):
        it.decision, it.folder, it.decided_by = decision, FOLDER_OF[decision], (None if decision == "pending" else by)
        if not self.db:
            return
        current = self._copy_path(it)
        target = self.library / it.folder / self.drop / it.file
        if current != target:
            target.parent.mkdir(parents=True, exist_ok=True)
            if current:
                shutil.move(current, target)
            else:
                self._write_copy(it)
        self._save_review(it)
        self._save_item(it, f"review.{decision}", f"{it.name}: {decision} ({by}) as {it.file}")

    def _save_review(self, it):
        t = now()
        self.db.execute(
            "INSERT INTO reviews (item_id, crop_digest, drop_name, decision, file_name, folder, decided_by, decided_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, crop_digest) DO UPDATE SET"
            " decision = excluded.decision, folder = excluded.folder, decided_by = excluded.decided_by,"
            " decided_at = excluded.decided_at, updated_at = excluded.updated_at",
            (it.id, it.crop_digest, self.drop, it.decision, it.file, it.folder, it.decided_by,
             t if it.decided_by else None, t))

    def _save_item(self, it, kind, message):
        if not self.db:
            return
        t = now()
        self.db.execute(
            "UPDATE items SET status = ?, tags = ?, price_cents = ?, vault = ?, flags = ?, cropped_name = ?,"
            " cropped_digest = ?, updated_at = ? WHERE id = ?",
            (it.status, json.dumps(it.tags), round(it.price * 100) if it.price is not None else None, it.vault,
             json.dumps(it.flags), it.file, it.crop_digest, t, it.id))
        self.db.execute("INSERT INTO events (at, kind, drop_name, item_id, stage, message) VALUES (?, ?, ?, ?, ?, ?)",
                        (t, kind, self.drop, it.id, "review", message))

    def reconcile(self):
        """A copy found in another folder than recorded is a decision made by moving the file."""
        if not self.db:
            return
        index = self._index()
        for it in self.items:
            path = self._copy_path(it, index)
            if path is None:
                self._write_copy(it)
                continue
            folder = path.relative_to(self.library).parts[0]
            if folder != it.folder:
                it.decision, it.folder = DECISION_OF[folder], folder
                it.decided_by = "folder" if it.decision != "pending" else None
                self._save_review(it)
                self._save_item(it, f"review.{it.decision}", f"{it.name}: {it.decision} (folder) as {it.file}")


# ---------------------------------------------------------------- HTTP
class Handler(BaseHTTPRequestHandler):
    server_version = "mock-elena-review/1"
    queue: Queue = None
    token = csrf = ""
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("mock: " + fmt % args + "\n")

    def send(self, status, body, content_type="application/json", cache="no-store"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status, sentence):
        self.send(status, {"error": sentence})

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        path, _, query = self.path.partition("?")
        token = parse_qs(query).get("token", [None])[0] or self.headers.get("X-Review-Token") or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return self.send(403, "forbidden: missing or wrong review token\n", "text/plain; charset=utf-8")
        if method == "POST":
            if not hmac.compare_digest(self.headers.get("X-CSRF-Token", "").encode(), self.csrf.encode()):
                return self.send(403, "forbidden: missing or wrong CSRF token\n", "text/plain; charset=utf-8")
        # Routes match the raw path: no decoding, no normalisation, so nothing but these shapes reaches a file.
        gets = {"/": self.page, "/app.js": self.asset, "/app.css": self.asset, "/api/items": self.items}
        posts = {"/api/decisions": self.decisions, "/api/metadata": self.metadata, "/api/undo": self.undo,
                 "/api/recrop": self.recrop}
        image = re.fullmatch(r"/thumbs/" + ID + r"\.jpg", path) or re.fullmatch(r"/images/" + ID + r"/(original|crop)\.jpg", path)
        with self.queue.lock:
            if path in gets or image:
                if method != "GET":
                    return self.send(405, "method not allowed\n", "text/plain; charset=utf-8")
                return gets[path](path) if not image else self.image(image)
            if path in posts:
                if method != "POST":
                    return self.send(405, "method not allowed\n", "text/plain; charset=utf-8")
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    body = json.loads(raw) if raw.strip() else {}
                except (ValueError, UnicodeDecodeError):
                    return self.fail(400, "The request body is not valid JSON.")
                if not isinstance(body, dict):
                    return self.fail(400, "The request body must be a JSON object.")
                return posts[path](body)
            return self.send(404, "not found\n", "text/plain; charset=utf-8")

    def page(self, _):
        text = (ASSETS / "index.html").read_text()
        for key, value in (("TOKEN", self.token), ("CSRF", self.csrf), ("DROP", self.queue.drop)):
            text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
        self.send(200, text, "text/html; charset=utf-8")

    def asset(self, path):
        kind = "text/javascript; charset=utf-8" if path.endswith(".js") else "text/css; charset=utf-8"
        self.send(200, (ASSETS / path.lstrip("/")).read_bytes(), kind, "no-cache")

    def items(self, _):
        self.send(200, self.queue.queue())

    def image(self, match):
        item = self.queue.resolve(match.group(1))
        if item is None:
            return self.send(404, "unknown item\n", "text/plain; charset=utf-8")
        kind = "thumb" if match.re.pattern.startswith("/thumbs/") else match.group(2)
        self.send(200, self.queue.image(kind, item), "image/png", "private, max-age=600")

    def targets(self, body):
        ids = body.get("items")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            self.fail(400, "'items' must be a non-empty list of item ids.")
            return None
        found = []
        for ref in ids:
            item = self.queue.resolve(ref) if re.fullmatch(ID, ref) else None
            if item is None:
                self.fail(404, f"Unknown item {ref}.")
                return None
            found.append(item)
        return found

    def decisions(self, body):
        decision = body.get("decision")
        if decision not in FOLDER_OF:
            return self.fail(400, f"Unknown decision {json.dumps(decision)}: use approved, rejected or pending.")
        items = self.targets(body)
        if items is None:
            return
        self.queue.decide(items, decision)
        self.send(200, {"changed": len(items), "items": [it.to_json() for it in items]})

    def metadata(self, body):
        tags, price, vault = body.get("tags"), body.get("price"), body.get("vault")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            return self.fail(400, "'tags' must be a list of strings.")
        if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or price < 3):
            return self.fail(400, "The price must be a number of USD, at least 3.00.")
        if vault is not None and not isinstance(vault, str):
            return self.fail(400, "'vault' must be a string.")
        items = self.targets(body)
        if items is None:
            return
        self.queue.metadata(items, [t.strip() for t in tags if t.strip()] if tags is not None else None,
                            float(price) if price is not None else None, vault)
        self.send(200, {"changed": len(items), "items": [it.to_json() for it in items]})

    def undo(self, _):
        what, items = self.queue.undo()
        if what is None:
            return self.send(200, {"undone": None})
        self.send(200, {"undone": what, "items": [it.to_json() for it in items]})

    def recrop(self, body):
        ref, line = body.get("item"), body.get("line")
        if isinstance(line, bool) or not isinstance(line, (int, float)) or not 0 <= line < 0.95:
            return self.fail(400, "'line' must be a fraction of the height, at least 0 and below 0.95.")
        item = self.queue.resolve(ref) if isinstance(ref, str) and re.fullmatch(ID, ref) else None
        if item is None:
            return self.fail(404, f"Unknown item {ref}.")
        self.queue.recrop(item, float(line))
        self.send(200, {"item": item.to_json()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=40, help="how many placeholder items (default 40)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--drop", default="demo")
    parser.add_argument("--library", help="mirror the state into this library (folders and elena.db)")
    parser.add_argument("--token", help="fixed token (default: random)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    Handler.queue = Queue(args.items, args.drop, args.library)
    Handler.token = args.token or secrets.token_urlsafe(24)
    Handler.csrf = secrets.token_urlsafe(24)
    Handler.verbose = args.verbose
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"Review page: http://127.0.0.1:{server.server_address[1]}/?token={Handler.token}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
