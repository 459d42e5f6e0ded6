#!/usr/bin/env python3
"""Model-based (stateful random) test of elena-run: the real binary, real folders, the real SQLite ledger.

Each sequence is seeded. It builds a small drop (labelled real face photos + synthetic PNGs) in a temporary folder,
then plays 20-60 random actions (manifest edits, runs, dry runs, folder moves, review-page API calls, recrops, source
changes, a second drop sharing an image) and checks the invariant after every step. The model (this file) predicts
what each item's current crop, decision and publication must be; the binary's ledger, folders, status and review
page must agree. See Tests/Model/README.md.

    python Tests/Model/model_test.py --seed 7 --actions 40          one sequence
    python Tests/Model/model_test.py --seed 1 --runs 10             seeds 1..10
    python Tests/Model/model_test.py --seed 1 --total 10000         seeds 1, 2, ... until 10,000 actions
    pytest Tests/Model/model_test.py                                test_model_short (about 300 actions)

Environment: ELENA_BIN (default .build/debug/elena-run), ELENA_MODELS_DIR (.build/models), ELENA_TEST_FACES
(.build/test-faces), ELENA_MODEL_SEED (replay one seed), ELENA_MODEL_ACTIONS (sequence length), ELENA_MODEL_TOTAL
(actions of the long run), ELENA_MODEL_KEEP=1 (keep the temporary folders), ELENA_MODEL_WEIGHTS / --weights
(action weights, e.g. source_rename=0), ELENA_MODEL_IGNORE / --ignore (clauses reported as warnings only).
"""
from __future__ import annotations

import argparse
import hashlib
import html
import http.client
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".build/test-venv/bin/python"


def env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "")
    return Path(value) if value else default


BIN = env_path("ELENA_BIN", ROOT / ".build/debug/elena-run")
MODELS = env_path("ELENA_MODELS_DIR", ROOT / ".build/models")
FACES = env_path("ELENA_TEST_FACES", ROOT / ".build/test-faces")

DROP_A = "model-a"
DROP_B = "model-b"
REVIEW_FOLDERS = ("3_review", "4_approved", "5_uploaded", "rejected")
FOLDER_DECISION = {"3_review": "pending", "4_approved": "approved", "5_uploaded": "approved", "rejected": "rejected"}
COMMAND_TIMEOUT = 180

# The values the crop and publish edits choose among.
STRATEGIES = ("keep", "no_face", "top_fraction", "lips_only")
TOP_FRACTIONS = (0.25, 0.3)
MARGINS = (0.02, 0.05)
LINES = (0.35, 0.4, 0.45)
TAG_SETS = (("lingerie", "mirror"), ("beach",), ("red", "satin", "dress"), ())
PRICES = (9.0, 12.0, 15.5)
VAULTS = ("elena-ppv", "vault-b")
PAGE_TAGS = (["page-a"], ["page-b", "gold"], [])
PAGE_PRICES = (5.0, 19.99)
PAGE_VAULTS = ("page-vault",)
# Face photos to pick from (labels.json 'expect': faces/any); the small ones keep a sequence fast.
FACE_CHOICES = (
    "astronaut_original.png",
    "astronaut_portrait.jpg",
    "astronaut_exif6.jpg",
    "astronaut_rot_m30.jpg",
    "astronaut_two_faces_same.jpg",
    "astronaut_crop_eyes.jpg",
    "camera_portrait.jpg",
)

# Relative weights of the actions.
WEIGHTS = {
    "run": 16,
    "dry_run": 4,
    "edit_crop": 14,
    "edit_publish": 4,
    "move": 14,
    "page": 12,
    "recrop_cli": 6,
    "delete_copy": 3,
    "stray": 2,
    "source_add": 3,
    "source_remove": 2,
    "source_rename": 3,
    "drop2": 3,
}



def apply_weights(text: str):
    """`kind=weight,...` (ELENA_MODEL_WEIGHTS or --weights): e.g. `source_rename=0,drop2=0` leaves those out."""
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        kind, _, value = part.partition("=")
        if kind not in WEIGHTS:
            raise SystemExit(f"model_test: unknown action '{kind}' in weights; actions: {', '.join(sorted(WEIGHTS))}")
        WEIGHTS[kind] = int(value)


DEFAULT_WEIGHTS = dict(WEIGHTS)
apply_weights(os.environ.get("ELENA_MODEL_WEIGHTS", ""))
# Clauses reported as warnings instead of failures (ELENA_MODEL_IGNORE or --ignore): to look past a known bug.
IGNORED: set[str] = set(filter(None, os.environ.get("ELENA_MODEL_IGNORE", "").split(",")))

# ------------------------------------------------------------------------------------------------ failures
class Violation(Exception):
    """An invariant clause that does not hold: the binary is wrong (or the model is)."""

    def __init__(self, clause: str, message: str, observed=None, expected=None, item: str | None = None):
        super().__init__(f"{clause}: {message}")
        self.clause = clause
        self.message = message
        self.observed = observed
        self.expected = expected
        self.item = item


class HarnessError(Exception):
    """The model could not follow what happened (a bug of this test, or something it does not model)."""


def short(value, limit=400):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: Path) -> str:
    return sha(path.read_bytes())


# ------------------------------------------------------------------------------------------------ images
def png_bytes(width: int, height: int, rng: random.Random) -> bytes:
    """A distinct RGB PNG: a diagonal gradient with a few flat blocks (stdlib only, fast enough)."""
    period = rng.randrange(64, 256)
    c0 = [rng.randrange(256) for _ in range(3)]
    c1 = [rng.randrange(256) for _ in range(3)]
    ramp = bytearray()
    for x in range(period):
        t = x / period
        ramp += bytes(int(a + (b - a) * t) for a, b in zip(c0, c1))
    base = bytes(ramp) * ((2 * width) // period + 3)
    blocks = []
    for _ in range(rng.randrange(2, 6)):
        x0, y0 = rng.randrange(width - 10), rng.randrange(height - 10)
        x1, y1 = rng.randrange(x0 + 5, width), rng.randrange(y0 + 5, height)
        blocks.append((x0, y0, x1, y1, bytes(rng.randrange(256) for _ in range(3))))
    raw = bytearray()
    for y in range(height):
        start = (y % period) * 3
        row = bytearray(base[start:start + width * 3])
        for x0, y0, x1, y1, color in blocks:
            if y0 <= y < y1:
                row[x0 * 3:x1 * 3] = color * (x1 - x0)
        raw += b"\x00" + row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b"")


def synthetic(rng: random.Random) -> bytes:
    return png_bytes(rng.randrange(300, 801), rng.randrange(300, 801), rng)


def face_files() -> list[str]:
    labels = FACES / "labels.json"
    if not labels.exists():
        raise HarnessError(f"{labels} is missing: run scripts/fetch-test-faces {FACES}")
    listed = {entry["file"]: entry for entry in json.loads(labels.read_text())}
    usable = [name for name in FACE_CHOICES if name in listed and listed[name].get("expect") in ("faces", "any")]
    if not usable:
        raise HarnessError(f"no usable face photo in {labels}")
    return usable


# ------------------------------------------------------------------------------------------------ status output
def status_counts(document: dict) -> dict:
    """The decision counts `elena-run status <manifest> --json` reports. The only place that knows its layout:
    `review` holds the items by where they stand in review (`published`, `approved`, `rejected`, `waiting`,
    `to_review_once_cropped`, each a list of files; published counts as approved here), `flagged` maps each flag to
    its files (human_override, a person's own cut, is not a warning and is not counted), `failures` lists what
    failed last time."""
    review = document["review"]
    names = {name for flag, files in document["flagged"].items() if flag != "human_override" for name in files}
    return {
        "waiting": len(review["waiting"]) + len(review["to_review_once_cropped"]),
        "approved": len(review["approved"]) + len(review["published"]),
        "rejected": len(review["rejected"]),
        "failed": len(document["failures"]),
        "flagged": len(names),
    }


# ------------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class CropConfig:
    """What decides an item's crop node: the manifest's crop settings and the item's human cut line."""

    strategy: str
    top_fraction: float
    margin: float
    line: float | None = None

    def spec(self) -> tuple:
        return (self.strategy, self.top_fraction, self.margin)

    def text(self) -> str:
        line = "" if self.line is None else f" line={self.line}"
        return f"{self.strategy} top={self.top_fraction} margin={self.margin}{line}"


@dataclass
class Learned:
    """The crop node's output for one (item, config), as the ledger's stage_runs row recorded when it ran."""

    digest: str
    key: str
    flags: list


@dataclass
class Source:
    name: str
    digest: str


def stem_of(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") or "image"


class Sequence:
    """One seeded sequence: a temporary library, the model, the actions and the invariant."""

    def __init__(self, seed: int, actions: int, keep: bool = False, verbose: bool = True, out=sys.stdout):
        self.seed = seed
        self.length = actions
        self.keep = keep
        self.verbose = verbose
        self.out = out
        self.rng = random.Random(seed)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"elena-model-{seed}-"))
        self.lib = self.tmp / "lib"
        self.src = self.tmp / "src"
        self.src2 = self.tmp / "src2"
        self.manifest = self.tmp / "drop-a.yaml"
        self.manifest2 = self.tmp / "drop-b.yaml"
        self.trace: list[str] = []
        self.commands: list[str] = []
        self.step = -1
        self.timings: dict[str, list[float]] = {}
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ELENA_LIBRARY")}
        self.env["ELENA_MODELS_DIR"] = str(MODELS)
        self.env["ELENA_CONFIG_DIR"] = str(self.tmp / "config")
        self.env["NO_COLOR"] = "1"
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        # The model.
        self.crop = CropConfig("keep", 0.3, 0.02)
        self.crop_history: list[tuple] = []
        self.publish = {"tags": list(TAG_SETS[0]), "price": 12.0, "vault": VAULTS[0]}
        self.sources: dict[str, Source] = {}
        self.shared_name: str | None = None
        self.overrides: dict[str, float] = {}
        self.publish_overrides: dict[str, dict] = {}
        self.learned: dict[tuple, Learned] = {}
        self.digest_item: dict[str, str] = {}
        self.run_config: dict[str, CropConfig] = {}
        self.ran = False
        self.decisions: dict[tuple, str | None] = {}
        self.pending_moves: dict[tuple, str] = {}
        self.approved_ever: set[str] = set()
        self.config_dirty = False
        self.folders_dirty = False
        self.publish_synced = False
        self.page: Page | None = None
        self.page_undo: list[tuple] = []
        self.page_touched: list[str] = []
        self.counter = 0
        self.faces = face_files()
        self.hash_cache: dict[tuple, str] = {}
        self.ignored: list[str] = []
        self.deferred: list[Violation] = []
        self.used_faces: set[str] = set()

    # -------------------------------------------------------------------------------- output
    def say(self, text: str):
        if self.verbose:
            print(text, file=self.out, flush=True)

    def log_command(self, text: str):
        self.commands.append(text)

    # -------------------------------------------------------------------------------- setup
    def setup(self):
        self.src.mkdir(parents=True)
        faces = self.rng.sample(self.faces, self.rng.randrange(2, 4))
        synthetics = self.rng.randrange(2, 6)
        for name in faces:
            self.add_face(name)
        for _ in range(synthetics):
            self.add_synthetic()
        self.write_manifest()
        self.say(f"[seed {self.seed}] setup: {len(self.sources)} images in {self.src}: {sorted(self.sources)}")

    def new_name(self, base: str, ext: str) -> str:
        self.counter += 1
        return f"{base}_{self.counter:02d}.{ext}"

    def add_face(self, face: str) -> str:
        self.used_faces.add(face)
        data = (FACES / face).read_bytes()
        name = self.new_name("face_" + stem_of(face).replace("astronaut", "astro"), face.rsplit(".", 1)[1])
        self.write_source(name, data)
        return name

    def add_synthetic(self) -> str:
        name = self.new_name("syn", "png")
        self.write_source(name, synthetic(self.rng))
        return name

    def write_source(self, name: str, data: bytes):
        (self.src / name).write_bytes(data)
        self.sources[name] = Source(name, sha(data))
        self.log_command(f"# add source {self.src / name} (sha256 {sha(data)[:12]})")

    def manifest_text(self, drop: str, source: Path, crop: CropConfig) -> str:
        tags = ", ".join(json.dumps(t) for t in self.publish["tags"])
        return (
            "version: 1\n"
            f"drop: {drop}\n"
            f"library: {self.lib}\n"
            "source:\n"
            f"  dir: {source}\n"
            '  include: ["*.png", "*.jpg"]\n'
            "crop:\n"
            f"  strategy: {crop.strategy}\n"
            "  fallback: top_fraction\n"
            f"  top_fraction: {crop.top_fraction}\n"
            f"  margin: {crop.margin}\n"
            '  aspect: "4:5"\n'
            "  min_height: 500\n"
            "publish:\n"
            "  to: folder\n"
            f"  vault: {self.publish['vault']}\n"
            f"  price: {self.publish['price']:.2f}\n"
            f"  tags: [{tags}]\n"
            '  caption: "New set"\n'
        )

    def write_manifest(self):
        text = self.manifest_text(DROP_A, self.src, self.crop)
        self.manifest.write_text(text)
        self.log_command(f"cat > {self.manifest} <<'EOF'\n{text}EOF")

    # -------------------------------------------------------------------------------- the binary
    def elena(self, args: list[str], label: str, expect: tuple = (0,), timeout: int = COMMAND_TIMEOUT):
        command = [str(BIN)] + args
        self.log_command(f"ELENA_MODELS_DIR={MODELS} {shlex.join(command)}")
        started = time.monotonic()
        try:
            done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Violation("exit_code", f"`{label}` did not finish within {timeout} s", observed="hang", expected=list(expect))
        self.timings.setdefault(label, []).append(time.monotonic() - started)
        if done.returncode not in expect:
            raise Violation(
                "exit_code",
                f"`{label}` exited {done.returncode}; stderr: {short(done.stderr.strip(), 1500)}; stdout: {short(done.stdout.strip(), 800)}",
                observed=done.returncode, expected=list(expect))
        self.log_command(f"#   -> exit {done.returncode}")
        return done

    def lib_args(self) -> list[str]:
        return ["--library", str(self.lib)]

    # -------------------------------------------------------------------------------- the ledger (read-only)
    def db(self):
        path = self.lib / "elena.db"
        if not path.exists():
            raise HarnessError(f"no ledger at {path}")
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        connection.row_factory = sqlite3.Row
        return connection

    def query(self, sql: str, params=()):
        connection = self.db()
        try:
            return [dict(row) for row in connection.execute(sql, params).fetchall()]
        finally:
            connection.close()

    def crop_rows(self) -> dict:
        if not (self.lib / "elena.db").exists():
            return {}
        rows = self.query("SELECT cache_key, item_id, status, output_digest, output FROM stage_runs WHERE stage = 'crop'")
        return {row["cache_key"]: row for row in rows}

    # -------------------------------------------------------------------------------- folders
    def hashed(self, path: Path) -> str:
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
        if key not in self.hash_cache:
            self.hash_cache[key] = file_sha(path)
        return self.hash_cache[key]

    def review_files(self) -> list[tuple[str, str, str]]:
        """Every file in the review folders: (library-relative path, top folder, sha256), sorted."""
        found = []
        for top in REVIEW_FOLDERS:
            base = self.lib / top
            if not base.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    path = Path(dirpath) / name
                    found.append((str(path.relative_to(self.lib)), top, self.hashed(path)))
        return sorted(found)

    def tree_snapshot(self) -> list:
        entries = []
        for dirpath, dirnames, filenames in os.walk(self.lib):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith("elena.db"):
                    continue
                path = Path(dirpath) / name
                info = path.lstat()
                entries.append((str(path.relative_to(self.lib)), info.st_size, info.st_mtime_ns))
        return entries

    def ledger_snapshot(self) -> str:
        if not (self.lib / "elena.db").exists():
            return ""
        parts = []
        for table in ("items", "drop_items", "stage_runs", "reviews", "publications", "crop_overrides",
                      "publish_overrides", "events", "file_stats"):
            rows = self.query(f"SELECT * FROM {table}")
            parts.append(json.dumps(sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)))
        return sha("\n".join(parts).encode())

    # -------------------------------------------------------------------------------- model helpers
    def current_items(self) -> dict[str, str]:
        """Item id -> source name, for the drop as the source folder holds it now."""
        items = {}
        for name in sorted(self.sources):
            items.setdefault(self.sources[name].digest, name)
        return items

    def config_for(self, item: str, spec: CropConfig | None = None) -> CropConfig:
        base = spec or self.crop
        return CropConfig(base.strategy, base.top_fraction, base.margin, self.overrides.get(item))

    def crop_of(self, item: str) -> Learned:
        config = self.run_config[item]
        learned = self.learned.get((item, config))
        if learned is None:
            raise HarnessError(f"no crop learned for item {item[:12]} with {config.text()}")
        return learned

    def decision_of(self, item: str, digest: str):
        return self.decisions.get((item, digest), "pending")

    def expected_publish(self, item: str) -> dict:
        override = self.publish_overrides.get(item, {})
        price = override.get("price", self.publish["price"])
        return {
            "vault": override.get("vault", self.publish["vault"]),
            "price_cents": int(round(price * 100)),
            "tags": list(override.get("tags", self.publish["tags"])),
        }

    def learn(self, before: dict, configs: dict[str, CropConfig], what: str):
        """Records what the crop node produced for each (item, config) that ran for the first time."""
        after = self.crop_rows()
        fresh: dict[str, list] = {}
        for key, row in after.items():
            if row["status"] != "succeeded":
                continue
            old = before.get(key)
            if old is not None and old["status"] == "succeeded" and old["output_digest"] == row["output_digest"]:
                continue
            fresh.setdefault(row["item_id"], []).append(row)
        for item, config in configs.items():
            rows = fresh.get(item, [])
            known = self.learned.get((item, config))
            if len(rows) > 1:
                raise HarnessError(f"{what}: {len(rows)} new crop nodes for item {item[:12]}")
            if rows:
                row = rows[0]
                output = json.loads(row["output"] or "null") or {}
                flags = sorted(((output.get("decision") or {}).get("flags")) or [])
                if known is not None and known.digest != row["output_digest"]:
                    raise Violation(
                        "crop_deterministic",
                        f"{what}: the crop node for {config.text()} ran again ({row['cache_key'][:12]}, before "
                        f"{known.key[:12]}) and gave other bytes", item=item, observed=row["output_digest"], expected=known.digest)
                self.learned[(item, config)] = Learned(row["output_digest"], row["cache_key"], flags)
                self.digest_item[row["output_digest"]] = item
            elif known is None:
                failed = [r for k, r in after.items() if r["item_id"] == item and r["status"] == "failed" and k not in before]
                raise Violation(
                    "crop_node_output",
                    f"{what}: no crop node output recorded for item {item[:12]} ({configs and config.text()})"
                    + (f"; a failed crop: {failed[0]}" if failed else ""),
                    item=item)

    def after_run(self, before: dict, what: str):
        """A run of drop A finished: learn the crops, settle the folder moves, and remember what ran."""
        items = self.current_items()
        configs = {item: self.config_for(item) for item in items}
        self.learn(before, configs, what)
        self.settle_moves({item: self.learned[(item, configs[item])].digest for item in items})
        self.run_config = configs
        self.ran = True
        self.config_dirty = False
        self.folders_dirty = False
        self.publish_synced = True

    def settle_moves(self, current: dict[str, str]):
        """Folder moves become decisions for the crop that is current when they are read; others are moot."""
        for (item, digest), decision in sorted(self.pending_moves.items()):
            if current.get(item) == digest:
                self.decisions[(item, digest)] = decision
            else:
                # The crop changed before the move was read: whatever the tool keeps for these bytes is acceptable.
                self.decisions[(item, digest)] = None
        self.pending_moves.clear()

    def ledger_current(self) -> dict[str, str]:
        return {item: self.crop_of(item).digest for item in self.run_config}

    # -------------------------------------------------------------------------------- the invariant
    def check(self, label: str):
        """Every clause that applies in the current state (see README: when each clause is checked)."""
        if not self.ran:
            return
        checked = []

        def clause(name, function, *args):
            try:
                function(*args)
                checked.append(name)
            except Violation as violation:
                if not self.ignorable(violation):
                    raise
                checked.append(name + " (IGNORED FAILURE)")

        clause("ledger_crop", self.check_ledger_crop)
        clause("ledger_override", self.check_override)
        if not self.folders_dirty:
            clause("review_copy", self.check_review_copies, "review_copy")
        clause("outbox_only_approved", self.check_outbox_only_approved)
        if self.publish_synced and not self.folders_dirty:
            clause("publish_current_approved", self.check_publication)
        if not self.config_dirty and not self.folders_dirty:
            clause("status_counts", self.check_status)
        if self.page is not None:
            clause("page", self.check_page)
            self.folders_dirty = False
            clause("review_copy_after_page_refresh", self.check_review_copies, "review_copy_after_page_refresh")
        self.say(f"    invariant ok ({', '.join(checked)})")

    def ignorable(self, violation: Violation) -> bool:
        """A violation of an ignored clause is printed and the sequence goes on."""
        if violation.clause not in IGNORED:
            return False
        self.ignored.append(f"step {self.step}: {violation.clause}: {violation.message}")
        self.say(f"    IGNORED {violation.clause}: {violation.message} (observed {short(violation.observed, 200)}, "
                 f"expected {short(violation.expected, 200)})")
        return True

    def check_ledger_crop(self):
        rows = {r["id"]: r for r in self.query("SELECT id, cropped_name, cropped_digest, flags FROM items")}
        for item in sorted(self.run_config):
            expected = self.crop_of(item)
            row = rows.get(item)
            if row is None:
                raise Violation("ledger_crop", "the item has no row in items", item=item, observed=None, expected=expected.digest)
            if row["cropped_digest"] != expected.digest:
                raise Violation(
                    "ledger_crop",
                    f"items.cropped_digest is not the output of the crop node for {self.run_config[item].text()} "
                    f"(node {expected.key[:12]}); items.cropped_name={row['cropped_name']}",
                    item=item, observed=row["cropped_digest"], expected=expected.digest)
            files = sorted((self.lib / "2_cropped").glob(f"*/{row['cropped_name']}"))
            if not files or self.hashed(files[0]) != expected.digest:
                raise Violation(
                    "ledger_crop", f"items.cropped_name {row['cropped_name']} names no file in 2_cropped/ with those bytes",
                    item=item, observed=[str(f) for f in files], expected=expected.digest)
            # near_duplicate is the run's look at the library (a picture already approved or published looks like
            # this one), not the crop's decision: NearDuplicateTests and ReviewServerTests hold it; here the rest must
            # be the crop node's.
            flags = sorted(f for f in json.loads(row["flags"] or "[]") if f != "near_duplicate")
            if flags != expected.flags:
                raise Violation(
                    "ledger_flags", f"items.flags are not the flags of the crop node for {self.run_config[item].text()}",
                    item=item, observed=flags, expected=expected.flags)

    def check_override(self):
        rows = {r["item_id"]: r["line_fraction"] for r in self.query("SELECT item_id, line_fraction FROM crop_overrides")}
        relevant = set(self.run_config) | set(self.overrides)
        for item in sorted(relevant):
            if rows.get(item) != self.overrides.get(item):
                raise Violation("ledger_override", "crop_overrides does not hold the cut line a person set",
                                item=item, observed=rows.get(item), expected=self.overrides.get(item))

    def copies_of(self, digest: str, files) -> list:
        return [f for f in files if f[2] == digest]

    def check_review_copies(self, clause: str):
        files = self.review_files()
        reviews = {(r["item_id"], r["crop_digest"]): r for r in self.query("SELECT * FROM reviews")}
        for item in sorted(self.run_config):
            digest = self.crop_of(item).digest
            copies = self.copies_of(digest, files)
            if len(copies) != 1:
                raise Violation(
                    clause, f"expected exactly one review copy of the current crop ({self.run_config[item].text()})",
                    item=item, observed=[c[0] for c in copies], expected=f"one file with sha256 {digest[:16]}")
            path, top, _ = copies[0]
            record = reviews.get((item, digest))
            if record is None:
                raise Violation(clause, "no reviews row for (item, current crop)", item=item, observed=None, expected=digest)
            if FOLDER_DECISION[top] != record["decision"]:
                raise Violation(clause, f"the review copy {path} is in a folder that does not match the ledger's decision",
                                item=item, observed=top, expected=record["decision"])
            if record["folder"] != top:
                raise Violation(clause + "_folder_column", f"reviews.folder does not say where the copy {path} is",
                                item=item, observed=record["folder"], expected=top)
            if record["file_name"] != Path(path).name:
                raise Violation(clause + "_file_name", "reviews.file_name does not name the review copy",
                                item=item, observed=record["file_name"], expected=Path(path).name)
            wanted = self.decision_of(item, digest)
            if wanted is not None and record["decision"] != wanted:
                raise Violation(clause + "_decision",
                                "the ledger's decision for the current crop is not the last decision a person made on these bytes",
                                item=item, observed=record["decision"], expected=wanted)

    def outbox_images(self, drop: str = DROP_A) -> list[Path]:
        folder = self.lib / "outbox" / drop
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".json") and not p.name.startswith("."))

    def check_outbox_only_approved(self):
        for drop in (DROP_A, DROP_B):
            for path in self.outbox_images(drop):
                digest = self.hashed(path)
                if digest not in self.approved_ever:
                    raise Violation("outbox_only_approved", f"{path.relative_to(self.lib)} holds bytes no person approved",
                                    item=self.digest_item.get(digest), observed=digest, expected=sorted(self.approved_ever))

    def check_publication(self):
        """After a run: each approved current crop is in the outbox, described by a sidecar of its item (whatever the
        file's name), with the metadata the manifest and the page's overrides give now."""
        outbox = self.lib / "outbox" / DROP_A
        sidecars = []
        if outbox.is_dir():
            for path in sorted(outbox.glob("*.json")):
                try:
                    sidecars.append((path, json.loads(path.read_text())))
                except ValueError:
                    raise Violation("publish_sidecar", f"{path.name} is not JSON", observed=path.read_text()[:200], expected="JSON")
        for item in sorted(self.run_config):
            digest = self.crop_of(item).digest
            if self.decision_of(item, digest) != "approved":
                continue
            mine = [(p, d) for p, d in sidecars if d.get("item") == item]
            current = [(p, d) for p, d in mine if d.get("sha256") == digest]
            if not current:
                raise Violation("publish_current_approved",
                                f"the current crop is approved, but no sidecar in outbox/{DROP_A}/ describes it after the run",
                                item=item, observed={p.name: d.get("sha256") for p, d in mine}, expected=digest)
            path, sidecar = current[-1]
            image = outbox / str(sidecar.get("file", ""))
            observed = self.hashed(image) if image.is_file() else None
            if observed != digest:
                raise Violation("publish_current_approved",
                                f"{path.name} describes the current crop, but outbox/{DROP_A}/{sidecar.get('file')} does not hold it",
                                item=item, observed=observed, expected=digest)
            wanted = self.expected_publish(item)
            seen = {"vault": sidecar.get("vault"), "price_cents": sidecar.get("price_cents"), "tags": sidecar.get("tags")}
            if seen != wanted:
                raise Violation("publish_sidecar", f"{path.name} metadata is not the manifest's with the page's overrides",
                                item=item, observed=seen, expected=wanted)

    def expected_counts(self) -> dict:
        reviews = {(r["item_id"], r["crop_digest"]): r["decision"] for r in self.query("SELECT item_id, crop_digest, decision FROM reviews")}
        counts = {"waiting": 0, "approved": 0, "rejected": 0, "failed": 0, "flagged": 0}
        word = {"pending": "waiting", "approved": "approved", "rejected": "rejected"}
        for item in self.run_config:
            learned = self.crop_of(item)
            counts[word[reviews.get((item, learned.digest), "pending")]] += 1
            if [f for f in learned.flags if f != "human_override"]:
                counts["flagged"] += 1
        return counts

    def check_status(self):
        done = self.elena(["status", str(self.manifest), "--json"] + self.lib_args(), "status --json", expect=(0, 3))
        try:
            document = json.loads(done.stdout)
        except ValueError:
            raise Violation("status_counts", "status --json printed no JSON", observed=short(done.stdout), expected="JSON")
        seen = status_counts(document)
        wanted = self.expected_counts()
        # The folders' view: the folder of each current crop's copy.
        files = self.review_files()
        folder_counts = {"waiting": 0, "approved": 0, "rejected": 0}
        word = {"pending": "waiting", "approved": "approved", "rejected": "rejected"}
        for item in self.run_config:
            copies = self.copies_of(self.crop_of(item).digest, files)
            if len(copies) == 1:
                folder_counts[word[FOLDER_DECISION[copies[0][1]]]] += 1
        for key in ("waiting", "approved", "rejected", "failed", "flagged"):
            if key in seen and seen[key] != wanted[key]:
                raise Violation("status_counts", f"status --json reports {key}={seen[key]}, the ledger {wanted[key]}",
                                observed=seen, expected=wanted)
        for key, value in folder_counts.items():
            if value != wanted[key]:
                raise Violation("status_counts", f"the folders hold {value} {key}, the ledger {wanted[key]}",
                                observed=folder_counts, expected=wanted)

    def check_page(self):
        page = self.page
        queue = page.items()
        listed = {entry["id"]: entry for entry in queue["items"]}
        reviews = {(r["item_id"], r["crop_digest"]): r for r in self.query("SELECT * FROM reviews")}
        for item in sorted(self.run_config):
            learned = self.crop_of(item)
            entry = listed.get(item)
            if entry is None:
                raise Violation("page_lists_item", "the review page does not list the item", item=item,
                                observed=sorted(i[:12] for i in listed), expected=item[:12])
            if entry["crop_digest"] != learned.digest:
                raise Violation("page_crop", f"the page lists another crop than the one the manifest implies ({self.run_config[item].text()})",
                                item=item, observed=entry["crop_digest"], expected=learned.digest)
            record = reviews.get((item, learned.digest))
            wanted = self.decision_of(item, learned.digest)
            ledger = record["decision"] if record else None
            if entry["decision"] != ledger or (wanted is not None and entry["decision"] != wanted):
                raise Violation("page_decision", "the page's decision is not the ledger's / the person's",
                                item=item, observed=entry["decision"], expected={"ledger": ledger, "person": wanted})
            copies = self.copies_of(learned.digest, self.review_files())
            if len(copies) == 1 and (entry.get("folder"), entry.get("file")) != (copies[0][1], Path(copies[0][0]).name):
                raise Violation("page_folder", "the page does not say where the review copy is", item=item,
                                observed={"folder": entry.get("folder"), "file": entry.get("file")},
                                expected={"folder": copies[0][1], "file": Path(copies[0][0]).name})
            flags = sorted(entry.get("flags") or [])
            if flags != learned.flags:
                raise Violation("page_flags", "the page's flags are not the crop node's", item=item, observed=flags, expected=learned.flags)
            body = page.get_bytes(entry["crop"])
            if sha(body) != learned.digest:
                raise Violation("page_crop_bytes", f"GET {entry['crop']} does not serve the current crop's bytes",
                                item=item, observed=sha(body), expected=learned.digest)

    # -------------------------------------------------------------------------------- actions
    def choose_action(self) -> str:
        kinds = sorted(WEIGHTS)
        weights = [WEIGHTS[k] for k in kinds]
        while True:
            kind = self.rng.choices(kinds, weights)[0]
            if WEIGHTS[kind] <= 0:
                continue
            if kind in ("page", "recrop_cli", "move", "delete_copy", "drop2", "dry_run") and not self.ran:
                continue
            if kind == "source_remove" and len(self.sources) <= 2:
                continue
            if kind == "drop2" and self.config_dirty:
                continue
            return kind

    def play(self) -> int:
        """Plays the sequence; returns the number of actions done. Raises Violation/HarnessError on failure."""
        self.setup()
        for self.step in range(self.length):
            kind = "run" if self.step == 0 else self.choose_action()
            getattr(self, "act_" + kind)()
        return self.length

    def record(self, text: str):
        self.trace.append(f"step {self.step:3d}: {text}")
        self.say(f"[seed {self.seed}] step {self.step}: {text}")

    # run / dry run --------------------------------------------------------------------------------
    def act_run(self):
        self.record("run")
        before = self.crop_rows()
        self.elena([str(self.manifest)] + self.lib_args(), "run", expect=(0, 3))
        self.after_run(before, "run")
        self.check("run")

    def act_dry_run(self):
        self.record("run --dry-run")
        tree, ledger = self.tree_snapshot(), self.ledger_snapshot()
        self.elena([str(self.manifest), "--dry-run"] + self.lib_args(), "run --dry-run", expect=(0, 3))
        if self.tree_snapshot() != tree:
            raise Violation("dry_run_readonly", "a dry run changed the library's files", observed="changed", expected="unchanged")
        if self.ledger_snapshot() != ledger:
            raise Violation("dry_run_readonly", "a dry run changed the ledger", observed="changed", expected="unchanged")
        self.check("dry run")

    # manifest edits ---------------------------------------------------------------------------------
    def act_edit_crop(self):
        if self.crop_history and self.rng.random() < 0.55:
            spec = self.rng.choice(sorted(set(self.crop_history)))
        else:
            spec = (self.rng.choice(STRATEGIES), self.rng.choice(TOP_FRACTIONS), self.rng.choice(MARGINS))
        self.crop_history.append(self.crop.spec())
        self.crop = CropConfig(*spec)
        self.record(f"edit crop: {self.crop.text()}")
        self.write_manifest()
        if self.ran and any(self.config_for(i) != c for i, c in self.run_config.items()):
            self.config_dirty = True
        self.check("edit crop")

    def act_edit_publish(self):
        field_name = self.rng.choice(["tags", "price", "vault"])
        if field_name == "tags":
            self.publish["tags"] = list(self.rng.choice(TAG_SETS))
        elif field_name == "price":
            self.publish["price"] = self.rng.choice(PRICES)
        else:
            self.publish["vault"] = self.rng.choice(VAULTS)
        self.record(f"edit publish: {field_name} = {self.publish[field_name]}")
        self.write_manifest()
        self.publish_synced = False
        self.check("edit publish")

    # folder decisions ---------------------------------------------------------------------------------
    def drop_a_copies(self, include_uploaded: bool) -> list:
        items = set(self.run_config) | set(self.current_items())
        result = []
        for path, top, digest in self.review_files():
            item = self.digest_item.get(digest)
            if item not in items:
                continue
            if top == "3_review" and not path.startswith(f"3_review/{DROP_A}/"):
                continue
            if top == "5_uploaded" and not include_uploaded:
                continue
            result.append((path, top, digest, item))
        return result

    def act_move(self):
        copies = self.drop_a_copies(include_uploaded=self.rng.random() < 0.15)
        if not copies:
            self.record("move: (no review copy to move)")
            return
        path, top, digest, item = self.rng.choice(copies)
        targets = [f"3_review/{DROP_A}", "4_approved", "4_approved/set-a", f"4_approved/{DROP_A}", "rejected",
                   f"rejected/{DROP_A}", "rejected/set-b"]
        targets = [t for t in targets if t.split("/")[0] != top]
        target = self.rng.choice(targets)
        source = self.lib / path
        destination = self.lib / target / source.name
        if destination.exists():
            self.record(f"move: {path} -> {target}/ (skipped: a file of that name is there)")
            return
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, destination)
        decision = FOLDER_DECISION[target.split("/")[0]]
        self.log_command(f"mv {source} {destination}")
        self.record(f"move {path} -> {target}/ ({decision}, item {item[:12]}, crop {digest[:12]})")
        self.pending_moves[(item, digest)] = decision
        if decision == "approved":
            self.approved_ever.add(digest)
        self.folders_dirty = True
        self.publish_synced = False
        self.check("move")

    def act_delete_copy(self):
        copies = self.drop_a_copies(include_uploaded=True)
        if not copies:
            self.record("delete copy: (none)")
            return
        path, top, digest, item = self.rng.choice(copies)
        (self.lib / path).unlink()
        self.log_command(f"rm {self.lib / path}")
        self.record(f"delete review copy {path} (item {item[:12]})")
        self.pending_moves.pop((item, digest), None)
        self.folders_dirty = True
        self.publish_synced = False
        self.check("delete copy")

    def act_stray(self):
        folder = self.rng.choice(["4_approved", "4_approved/set-a", f"4_approved/{DROP_A}"])
        self.counter += 1
        path = self.lib / folder / f"stray_{self.counter:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(self.rng.randrange(200, 400), self.rng.randrange(200, 400), self.rng))
        self.log_command(f"# write a stray image {path}")
        self.record(f"stray image {path.relative_to(self.lib)}")
        self.check("stray")

    # sources --------------------------------------------------------------------------------------
    def act_source_add(self):
        unused = [f for f in self.faces if f not in self.used_faces]
        if self.rng.random() < 0.4 and unused:
            name = self.add_face(self.rng.choice(unused))
        else:
            name = self.add_synthetic()
        self.record(f"add source {name}")
        self.config_dirty = True
        self.check("add source")

    def act_source_remove(self):
        name = self.rng.choice(sorted(self.sources))
        (self.src / name).unlink()
        del self.sources[name]
        self.log_command(f"rm {self.src / name}")
        self.record(f"remove source {name}")
        self.config_dirty = True
        self.check("remove source")

    def act_source_rename(self):
        name = self.rng.choice(sorted(self.sources))
        base = stem_of(name).split("_r")[0]
        new = self.new_name(base + "_r", name.rsplit(".", 1)[1])
        os.rename(self.src / name, self.src / new)
        self.sources[new] = Source(new, self.sources.pop(name).digest)
        self.log_command(f"mv {self.src / name} {self.src / new}")
        self.record(f"rename source {name} -> {new}")
        self.config_dirty = True
        self.check("rename source")

    # recrop ---------------------------------------------------------------------------------------
    def act_recrop_cli(self):
        item = self.rng.choice(sorted(self.run_config))
        clear = item in self.overrides and self.rng.random() < 0.5 or self.rng.random() < 0.2
        with_manifest = self.rng.random() < 0.6
        args = ["recrop", item[:12]]
        if clear:
            args.append("--clear")
        else:
            line = self.rng.choice(LINES)
            args += ["--line", str(line)]
        if with_manifest:
            args.append(str(self.manifest))
        self.record(" ".join(args[:2] + (["--clear"] if clear else ["--line", str(line)])) + (" <manifest>" if with_manifest else ""))
        before = self.crop_rows()
        self.elena(args + self.lib_args(), "recrop", expect=(0, 3) if with_manifest else (0,))
        if clear:
            self.overrides.pop(item, None)
        else:
            self.overrides[item] = line
        if with_manifest:
            self.after_run(before, "recrop + run")
        elif self.run_config.get(item) != self.config_for(item):
            self.config_dirty = True
        self.check("recrop")

    # the second drop --------------------------------------------------------------------------------
    def act_drop2(self):
        if self.shared_name is None or self.shared_name not in self.sources:
            candidates = [n for n in sorted(self.sources) if self.sources[n].digest in self.run_config]
            if not candidates:
                self.record("drop2: (nothing to share)")
                return
            self.shared_name = self.rng.choice(candidates)
            if self.src2.exists():
                shutil.rmtree(self.src2)
            self.src2.mkdir()
            shutil.copyfile(self.src / self.shared_name, self.src2 / self.shared_name)
            own = synthetic(self.rng)
            (self.src2 / "other_b.png").write_bytes(own)
            self.log_command(f"mkdir {self.src2}; cp {self.src / self.shared_name} {self.src2}/; # plus a synthetic other_b.png")
        shared = self.sources[self.shared_name].digest
        # Drop B crops like drop A's last run, so the shared item's crop node is the same in both drops.
        spec = self.run_config[shared]
        text = self.manifest_text(DROP_B, self.src2, CropConfig(spec.strategy, spec.top_fraction, spec.margin))
        self.manifest2.write_text(text)
        self.log_command(f"cat > {self.manifest2} <<'EOF'\n{text}EOF")
        self.record(f"second drop {DROP_B} sharing {self.shared_name}: run it")
        before = self.crop_rows()
        self.elena([str(self.manifest2)] + self.lib_args(), "run drop B", expect=(0, 3))
        configs = {}
        for name in sorted(os.listdir(self.src2)):
            digest = file_sha(self.src2 / name)
            configs[digest] = CropConfig(spec.strategy, spec.top_fraction, spec.margin, self.overrides.get(digest))
        self.learn(before, configs, "run drop B")
        self.publish_synced = False
        self.check_drop_b(shared)
        self.check("drop B run")

    def check_drop_b(self, shared: str):
        """`drop2_left_out`: a picture belongs to the first drop that took it; drop B leaves the shared image out
        (no copy of it in B's review folder), and its status says where the image is."""
        if not self.sources.get(self.shared_name) or self.sources[self.shared_name].digest != shared:
            return
        done = self.elena(["status", str(self.manifest2), "--json"] + self.lib_args(), "status drop B", expect=(0, 1, 3))
        report = json.loads(done.stdout)
        elsewhere = {entry.get("file"): entry.get("drop") for entry in report.get("in_other_drops", [])}
        if elsewhere.get(self.shared_name) != DROP_A:
            raise Violation("drop2_left_out", f"drop B's status does not say {self.shared_name} is in {DROP_A}",
                            observed=report.get("in_other_drops"), expected={self.shared_name: DROP_A})
        folder = self.lib / "3_review" / DROP_B
        copies = sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
        stem = Path(self.shared_name).stem
        if any(name.startswith(stem + ".") for name in copies):
            raise Violation("drop2_left_out", f"drop B queued a copy of {self.shared_name}, which belongs to {DROP_A}",
                            observed=copies, expected=f"no {stem}.* in 3_review/{DROP_B}/")

    # the review page ---------------------------------------------------------------------------------
    def act_page(self):
        no_run = self.rng.random() < 0.5
        self.record(f"review page{' --no-run' if no_run else ''}: start")
        before = self.crop_rows()
        self.page = Page(self, no_run)
        try:
            if not no_run:
                self.after_run(before, "review (run first)")
            else:
                # The page reconciles the folders with the ledger's current crops on its first request.
                self.settle_moves(self.ledger_current())
            self.page_undo = []
            self.page_touched = []
            self.check("page start")
            for _ in range(self.rng.randrange(1, 5)):
                self.page_op()
        except BaseException:
            page, self.page = self.page, None
            page.stop(quiet=True)
            raise
        page, self.page = self.page, None
        page.stop()
        self.check("page stopped")

    def page_op(self):
        page = self.page
        queue = page.items()
        ids = [entry["id"] for entry in queue["items"] if entry["id"] in self.run_config]
        by_id = {entry["id"]: entry for entry in queue["items"]}
        if not ids:
            return
        # Half the time, work on the items this session already touched (decide, then recrop, then undo...).
        touched = [i for i in self.page_touched if i in ids]
        if touched and self.rng.random() < 0.5:
            ids = sorted(set(touched))
        op = self.rng.choices(["decide", "undo", "metadata", "recrop"], [6, 2, 2, 2])[0]
        if op == "decide":
            chosen = sorted(self.rng.sample(ids, min(len(ids), self.rng.randrange(1, 3))))
            decision = self.rng.choice(["approved", "approved", "rejected", "pending"])
            self.record(f"page: POST /api/decisions {decision} {[i[:12] for i in chosen]}")
            status, answer = page.post("/api/decisions", {"items": chosen, "decision": decision})
            if status != 200:
                raise Violation("page_api", f"POST /api/decisions answered {status}: {short(answer)}", observed=status, expected=200)
            undo = []
            for item in chosen:
                digest = by_id[item]["crop_digest"]
                undo.append((item, digest, self.decisions.get((item, digest), "pending")))
                self.decisions[(item, digest)] = decision
                if decision == "approved":
                    self.approved_ever.add(digest)
            self.page_undo.append(("decisions", undo))
            self.page_touched += chosen
            self.publish_synced = False
        elif op == "undo":
            self.record("page: POST /api/undo")
            status, answer = page.post("/api/undo", {})
            if status != 200:
                raise Violation("page_api", f"POST /api/undo answered {status}: {short(answer)}", observed=status, expected=200)
            if self.page_undo:
                kind, saved = self.page_undo.pop()
                if kind == "decisions":
                    for item, digest, previous in saved:
                        self.decisions[(item, digest)] = previous
                        if previous == "approved":
                            self.approved_ever.add(digest)
                else:
                    for item, previous in saved:
                        if previous is None:
                            self.publish_overrides.pop(item, None)
                        else:
                            self.publish_overrides[item] = previous
            self.publish_synced = False
        elif op == "metadata":
            chosen = sorted(self.rng.sample(ids, min(len(ids), self.rng.randrange(1, 3))))
            body: dict = {"items": chosen}
            key = self.rng.choice(["tags", "price", "vault"])
            value = {"tags": lambda: list(self.rng.choice(PAGE_TAGS)), "price": lambda: self.rng.choice(PAGE_PRICES),
                     "vault": lambda: self.rng.choice(PAGE_VAULTS)}[key]()
            if self.rng.random() < 0.2:
                value = None
            body[key] = value
            self.record(f"page: POST /api/metadata {key}={value} {[i[:12] for i in chosen]}")
            status, answer = page.post("/api/metadata", body)
            if status != 200:
                raise Violation("page_api", f"POST /api/metadata answered {status}: {short(answer)}", observed=status, expected=200)
            saved = []
            for item in chosen:
                previous = self.publish_overrides.get(item)
                saved.append((item, dict(previous) if previous is not None else None))
                override = dict(previous or {})
                if value is None:
                    override.pop(key, None)
                else:
                    override[key] = value
                if override:
                    self.publish_overrides[item] = override
                else:
                    self.publish_overrides.pop(item, None)
            self.page_undo.append(("metadata", saved))
            self.page_touched += chosen
            self.publish_synced = False
        else:
            item = self.rng.choice(ids)
            self.page_touched.append(item)
            line = self.rng.choice(LINES)
            self.record(f"page: POST /api/recrop {item[:12]} line={line}")
            before = self.crop_rows()
            status, answer = page.post("/api/recrop", {"item": item, "line": line})
            if status != 200:
                raise Violation("page_api", f"POST /api/recrop answered {status}: {short(answer)}", observed=status, expected=200)
            self.overrides[item] = line
            self.after_run(before, "page recrop (runs the drop)")
            returned = answer.get("item", {}) if isinstance(answer, dict) else {}
            wanted = self.crop_of(item).digest if item in self.run_config else returned.get("crop_digest")
            if returned.get("crop_digest") != wanted:
                raise Violation("page_crop", "POST /api/recrop answered with another crop than the new one", item=item,
                                observed=returned.get("crop_digest"), expected=wanted)
        self.check("page op")

    # -------------------------------------------------------------------------------- cleanup
    def close(self):
        if self.page is not None:
            self.page.stop(quiet=True)
            self.page = None
        if self.keep:
            self.say(f"[seed {self.seed}] kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Page:
    """`elena-run review` running in the background, and requests to it."""

    def __init__(self, sequence: Sequence, no_run: bool):
        self.sequence = sequence
        args = [str(BIN), "review", str(sequence.manifest), "--no-browser", "--port", "0"] + sequence.lib_args()
        if no_run:
            args.append("--no-run")
        sequence.log_command(f"ELENA_MODELS_DIR={MODELS} {shlex.join(args)} &   # prints the URL")
        self.stderr = open(sequence.tmp / "review.stderr", "ab")
        started = time.monotonic()
        self.process = subprocess.Popen(args, env=sequence.env, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.url = None
        output = b""
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while self.url is None:
            if time.monotonic() > deadline:
                self.stop()
                raise Violation("exit_code", "the review server printed no URL", observed=short(output.decode(errors="replace")), expected="URL")
            ready, _, _ = select.select([self.process.stdout], [], [], 0.05)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    code = self.process.wait()
                    raise Violation("exit_code", f"the review server exited {code} before printing its URL: "
                                    f"{short((sequence.tmp / 'review.stderr').read_text(errors='replace'), 1500)}",
                                    observed=code, expected="running")
                output += chunk
                match = re.search(rb"http://127\.0\.0\.1:(\d+)/\?token=([^\s\"'<>]+)", output)
                if match:
                    self.url = match.group(0).decode()
                    self.port = int(match.group(1))
                    self.token = parse_qs(urlsplit(self.url).query)["token"][0]
        sequence.timings.setdefault("review start" + (" --no-run" if no_run else ""), []).append(time.monotonic() - started)
        status, page = self.request("GET", f"/?token={self.token}", token=False)
        match = re.search(rb'<meta name="csrf-token" content="([^"]*)"', page)
        if status != 200 or not match:
            raise Violation("page_api", f"GET / answered {status} without a csrf-token meta tag", observed=status, expected=200)
        self.csrf = html.unescape(match.group(1).decode())

    def request(self, method: str, path: str, body=None, token=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=COMMAND_TIMEOUT)
        headers = {}
        if token:
            headers["X-Review-Token"] = self.token
        if method == "POST":
            headers["X-CSRF-Token"] = self.csrf
            headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode() if body is not None else None
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            code = self.process.poll()
            raise Violation("page_api", f"{method} {path} failed: {error} (server exit code {code})", observed=str(error), expected="an answer")
        finally:
            connection.close()
        return response.status, payload

    def items(self) -> dict:
        self.sequence.log_command(f"curl -s -H 'X-Review-Token: $TOKEN' {self.url.split('?')[0].rstrip('/')}/api/items")
        status, payload = self.request("GET", "/api/items")
        if status != 200:
            raise Violation("page_api", f"GET /api/items answered {status}: {short(payload.decode(errors='replace'))}", observed=status, expected=200)
        return json.loads(payload)

    def get_bytes(self, path: str) -> bytes:
        status, payload = self.request("GET", path)
        if status != 200:
            raise Violation("page_api", f"GET {path} answered {status}", observed=status, expected=200)
        return payload

    def post(self, path: str, body: dict):
        self.sequence.log_command(
            f"curl -s -X POST -H 'X-Review-Token: $TOKEN' -H 'X-CSRF-Token: $CSRF' -d '{json.dumps(body)}' "
            f"{self.url.split('?')[0].rstrip('/')}{path}")
        status, payload = self.request("POST", path, body)
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = payload.decode(errors="replace")
        return status, answer

    def terminate(self) -> bool:
        """SIGTERM, then up to 20 s for the server to stop; False (after killing it) when it did not."""
        if self.process.poll() is not None:
            return True
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
            return True
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False

    def stop(self, quiet: bool = False):
        if self.stderr.closed:
            return
        stopped = self.terminate()
        self.stderr.close()
        if quiet:
            return
        if not stopped:
            raise Violation("exit_code", "the review server did not stop within 20 s of SIGTERM", observed="running", expected="stopped")
        self.sequence.log_command("kill -TERM %1   # stop the review server")
        code = self.process.returncode
        if code not in (0,):
            # Reported at the end of the sequence, not at once: on a binary where it is a race (as it was before the
            # signal fix: a drop run in the same process reset the disposition), the actions must not depend on it.
            violation = Violation("review_server_stop", f"the review server exited {code} on SIGTERM (not a graceful stop)",
                                  observed=code, expected=0)
            violation.step = self.sequence.step
            if not self.sequence.ignorable(violation):
                self.sequence.deferred.append(violation)
                self.sequence.say(f"    DEFERRED FAILURE review_server_stop: exit {code} (reported at the end of the sequence)")


# ------------------------------------------------------------------------------------------------ driving
def sequence_length(seed: int) -> int:
    value = os.environ.get("ELENA_MODEL_ACTIONS")
    if value:
        return int(value)
    return random.Random(seed * 7919 + 17).randrange(20, 61)


@dataclass
class Outcome:
    seed: int
    actions: int
    seconds: float
    failure: str | None = None
    clause: str | None = None
    step: int | None = None
    timings: dict = field(default_factory=dict)


def weights_text() -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(WEIGHTS.items()) if DEFAULT_WEIGHTS.get(k) != v)


def replay_command(seed: int, actions: int) -> str:
    changed = weights_text()
    weights = f" --weights {changed}" if changed else ""
    ignore = f" --ignore {','.join(sorted(IGNORED))}" if IGNORED else ""
    return f"ELENA_BIN={BIN} {PYTHON} {ROOT / 'Tests/Model/model_test.py'} --seed {seed} --actions {actions}{weights}{ignore} --keep"


def run_sequence(seed: int, actions: int | None = None, keep: bool = False, verbose: bool = True, out=sys.stdout) -> Outcome:
    length = actions if actions is not None else sequence_length(seed)
    started = time.monotonic()
    sequence = Sequence(seed, length, keep=keep, verbose=verbose, out=out)
    print(f"[seed {seed}] {length} actions, binary {BIN}, library {sequence.lib}", file=out, flush=True)
    try:
        sequence.play()
        if sequence.deferred:
            first = sequence.deferred[0]
            sequence.step = first.step
            raise first
        outcome = Outcome(seed, length, time.monotonic() - started, timings=sequence.timings)
        print(f"[seed {seed}] passed: {length} actions in {outcome.seconds:.1f} s", file=out, flush=True)
        return outcome
    except Exception as error:  # noqa: BLE001 - every failure is reported with its replay command
        done = sequence.step + 1
        clause = error.clause if isinstance(error, Violation) else "harness"
        lines = [
            "",
            "=" * 100,
            f"MODEL TEST FAILURE  seed {seed}  step {sequence.step}  clause {clause}",
            f"  {error}",
        ]
        if not isinstance(error, (Violation, HarnessError)):
            import traceback

            lines.append("  (an error of the test itself:)")
            lines += ["    " + line for line in traceback.format_exc().rstrip().splitlines()]
        if isinstance(error, Violation):
            if error.item:
                lines.append(f"  item:     {error.item}")
            lines.append(f"  observed: {short(error.observed, 1200)}")
            lines.append(f"  expected: {short(error.expected, 1200)}")
        for other in sequence.deferred:
            if other is not error:
                lines.append(f"  also failed (deferred): step {other.step}: {other.clause}: {other.message}")
        lines.append("  actions:")
        lines += [f"    {text}" for text in sequence.trace]
        lines.append("  commands (the exact sequence, replayable by hand):")
        lines += ["    " + line.replace("\n", "\n    ") for line in sequence.commands]
        lines.append(f"  replay: {replay_command(seed, done)}")
        lines.append("=" * 100)
        report = "\n".join(lines)
        print(report, file=out, flush=True)
        return Outcome(seed, done, time.monotonic() - started, failure=report, clause=clause, step=sequence.step,
                       timings=sequence.timings)
    finally:
        sequence.close()


def run_many(first_seed: int, runs: int | None, total: int | None, actions: int | None, keep: bool, verbose: bool,
             max_seeds: int = 10_000) -> list[Outcome]:
    outcomes: list[Outcome] = []
    seed = first_seed
    done = 0
    while True:
        if runs is not None and len(outcomes) >= runs:
            break
        if total is not None and done >= total:
            break
        if len(outcomes) >= max_seeds:
            break
        outcome = run_sequence(seed, actions, keep=keep, verbose=verbose)
        outcomes.append(outcome)
        done += outcome.actions
        seed += 1
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    actions = sum(o.actions for o in outcomes)
    seconds = sum(o.seconds for o in outcomes)
    failed = [o for o in outcomes if o.failure]
    lines = [f"{len(outcomes)} sequences, {actions} actions in {seconds:.1f} s "
             f"({seconds / max(actions, 1):.2f} s per action); {len(failed)} failed"]
    for o in failed:
        lines.append(f"  seed {o.seed}: step {o.step}, first failing clause {o.clause}  (replay: --seed {o.seed} --actions {o.actions})")
    timings: dict[str, list[float]] = {}
    for o in outcomes:
        for key, values in o.timings.items():
            timings.setdefault(key, []).extend(values)
    if timings:
        lines.append("  binary invocations: " + ", ".join(
            f"{k} {len(v)}x {sum(v) / len(v):.2f} s" for k, v in sorted(timings.items())))
    return "\n".join(lines)


def preflight():
    missing = []
    if not BIN.exists():
        missing.append(f"the binary {BIN} (swift build, or set ELENA_BIN)")
    if not (MODELS / "face_detection_short_range.onnx").exists():
        missing.append(f"the face models in {MODELS} (scripts/install-models {MODELS})")
    if not (FACES / "labels.json").exists():
        missing.append(f"the labelled faces in {FACES} (scripts/fetch-test-faces {FACES})")
    return missing


# ------------------------------------------------------------------------------------------------ pytest
def _pytest_run(total: int, first_seed: int):
    import pytest

    missing = preflight()
    if missing:
        pytest.fail("model test prerequisites missing: " + "; ".join(missing))
    seed_text = os.environ.get("ELENA_MODEL_SEED")
    if seed_text:
        outcomes = [run_sequence(int(seed_text), keep=os.environ.get("ELENA_MODEL_KEEP") == "1")]
    else:
        outcomes = run_many(first_seed, None, total, None, os.environ.get("ELENA_MODEL_KEEP") == "1", verbose=True, max_seeds=200)
    text = summary(outcomes)
    print(text)
    failed = [o for o in outcomes if o.failure]
    if failed:
        pytest.fail(text + "\n\nfirst failure:\n" + failed[0].failure, pytrace=False)


try:  # marks when pytest is there (the file also runs as a plain script)
    import pytest as _pytest

    _model = _pytest.mark.model
    _model_long = _pytest.mark.model_long
except ImportError:  # pragma: no cover
    def _model(function):
        return function

    _model_long = _model


@_model
def test_model_short():
    """About 300 actions (a few minutes on 2 cores): seeds 1, 2, ... until 300 actions were played."""
    _pytest_run(int(os.environ.get("ELENA_MODEL_SHORT_TOTAL", "300")), first_seed=1)


@_model_long
def test_model_long():
    """The long run: ELENA_MODEL_TOTAL actions (10,000 in the long target); skipped unless ELENA_MODEL_TOTAL is set."""
    import pytest

    total = os.environ.get("ELENA_MODEL_TOTAL")
    if not total:
        pytest.skip("set ELENA_MODEL_TOTAL (e.g. 10000) for the long model run")
    _pytest_run(int(total), first_seed=int(os.environ.get("ELENA_MODEL_FIRST_SEED", "1000")))


# ------------------------------------------------------------------------------------------------ command line
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("ELENA_MODEL_SEED", "1")))
    parser.add_argument("--actions", type=int, default=None, help="actions per sequence (default: ELENA_MODEL_ACTIONS or 20-60 from the seed)")
    parser.add_argument("--runs", type=int, default=None, help="sequences to play (seeds seed, seed+1, ...)")
    parser.add_argument("--total", type=int, default=None, help="play sequences until this many actions (default: ELENA_MODEL_TOTAL)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    parser.add_argument("--ignore", default="", help="clauses to report as warnings only, e.g. review_server_stop (also ELENA_MODEL_IGNORE)")
    parser.add_argument("--weights", default="", help="action weights to change, e.g. source_rename=0,drop2=0 (also ELENA_MODEL_WEIGHTS)")
    args = parser.parse_args(argv)
    apply_weights(args.weights)
    IGNORED.update(filter(None, args.ignore.split(",")))
    missing = preflight()
    if missing:
        print("model_test: missing " + "; ".join(missing), file=sys.stderr)
        return 2
    total = args.total if args.total is not None else (int(os.environ["ELENA_MODEL_TOTAL"]) if os.environ.get("ELENA_MODEL_TOTAL") and args.runs is None else None)
    runs = args.runs if args.runs is not None or total is not None else 1
    keep = args.keep or os.environ.get("ELENA_MODEL_KEEP") == "1"
    outcomes = run_many(args.seed, runs, total, args.actions, keep, verbose=not args.quiet)
    print(summary(outcomes))
    return 1 if any(o.failure for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
