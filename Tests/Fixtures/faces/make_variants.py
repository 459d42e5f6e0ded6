#!/usr/bin/env python3
"""Writes the labelled face-test images and their labels.json.

    make_variants.py --sources DIR --out DEST [--annotations annotations.json]

DIR holds the source photos extracted from the pinned scikit-image wheel (scripts/fetch-test-faces does that);
their sha256 must match annotations.json. Every variant is made from a source by an affine map (scale, translate,
rotate, mirror) and every annotated point goes through exactly the same map, so the labels are computed, never
re-annotated. Deterministic: fixed seeds, no clock, no randomness outside numpy's seeded generator.

Coordinates: a point [x, y] names a pixel (x right, y down, [0, 0] top-left). The maps work on continuous
coordinates where pixel i spans [i, i+1) (Pillow's convention for resize and transform), so a point p maps to
M(p + 0.5) - 0.5. Label values are rounded to 0.1 px.

labels.json is a list, one entry per image:
  file, width, height (as displayed, i.e. after EXIF orientation), stored_width, stored_height, exif_orientation,
  format, kind, source, expect ("faces" | "no_face" | "any"), approximate, lowest_face, faces, notes.
Each face: chin, nose_tip, nose_bottom, upper_lip_top, mouth, lower_lip_bottom, eyes [[x,y],[x,y]] (left-in-image
first), top ([x,y] hairline), top_y, head_top, head_top_y, outline (lower face contour, inside points only),
lowest_y (largest y of every annotated point of the face: a no_face cut must lie below it), source_to_image
(2x3 matrix [[a,b,c],[d,e,f]] in pixel-index coordinates: x' = a*x + b*y + c, y' = d*x + e*y + f).
A point outside the image is null (only the crop-top variants have such points; their chin is always inside).
"""
import argparse
import hashlib
import io
import json
import math
import os
import shutil
import struct
import sys
import zlib

import numpy as np
from PIL import Image

W, H = 1024, 1536  # the portrait canvas of an AI "body shot"
SCALAR_POINTS = ["chin", "nose_tip", "nose_bottom", "upper_lip_top", "mouth", "lower_lip_bottom", "top", "head_top"]
JPEG_QUALITY = 90
VERBOSE = True


def say(text):
    if VERBOSE:
        print(text)


# ----------------------------------------------------------------------------------------------- affine maps
# 3x3 matrices acting on continuous coordinates (pixel i spans [i, i+1)).

def translate(tx, ty):
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scale(s):
    return np.array([[s, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, 1.0]])


def mirror(width):
    """Left-right mirror of an image `width` pixels wide."""
    return np.array([[-1.0, 0.0, float(width)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def rotate_about(cx, cy, degrees):
    """Rotation about the continuous point (cx, cy); positive degrees turn the picture counter-clockwise as seen
    on screen (like PIL.Image.rotate), e.g. a point right of the centre moves up."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return translate(cx, cy) @ r @ translate(-cx, -cy)


def map_point(m, p):
    """Pixel-index point through continuous map m; None stays None."""
    if p is None:
        return None
    v = m @ np.array([p[0] + 0.5, p[1] + 0.5, 1.0])
    return [float(v[0]) - 0.5, float(v[1]) - 0.5]


def index_matrix(m):
    """m expressed on pixel indices: T(-0.5) m T(+0.5), as a 2x3 list."""
    k = translate(-0.5, -0.5) @ m @ translate(0.5, 0.5)
    return [[round(float(k[r][c]), 6) for c in range(3)] for r in range(2)]


# ----------------------------------------------------------------------------------------------- drawing

def background(seed, size=(W, H)):
    """Neutral grey vertical gradient with a faint seeded grain (flat colour compresses and detects unlike a photo)."""
    w, h = size
    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, h)[:, None]
    xs = np.linspace(-1.0, 1.0, w)[None, :]
    top = np.array([208.0, 205.0, 200.0])
    bottom = np.array([138.0, 136.0, 134.0])
    base = top[None, None, :] * (1 - ys[..., None]) + bottom[None, None, :] * ys[..., None]
    base = base - 10.0 * (xs[..., None] ** 2)  # slight vignette left and right
    base = base + rng.normal(0.0, 1.6, size=(h, w, 1))
    arr = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB").convert("RGBA")


def warp(photo, m, size=(W, H)):
    """photo (any mode) drawn through continuous map m onto a transparent canvas of `size`."""
    inv = np.linalg.inv(m)
    data = (inv[0][0], inv[0][1], inv[0][2], inv[1][0], inv[1][1], inv[1][2])
    src = photo.convert("RGBA").convert("RGBa")  # premultiplied: no dark fringe at the photo's edges
    out = src.transform(size, Image.AFFINE, data, resample=Image.BICUBIC, fillcolor=(0, 0, 0, 0))
    return out.convert("RGBA")


def compose(seed, layers, size=(W, H)):
    canvas = background(seed, size)
    for photo, m in layers:
        canvas.alpha_composite(warp(photo, m, size))
    return canvas.convert("RGB")


def seed_of(name):
    return zlib.crc32(name.encode("utf-8"))


# ----------------------------------------------------------------------------------------------- EXIF

def exif_app1(orientation):
    """A minimal APP1 Exif segment: big-endian TIFF header and one IFD0 entry, Orientation (0x0112, SHORT)."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_exif_orientation(jpeg, orientation):
    """JPEG bytes with the Exif APP1 right after SOI (as the Exif standard wants) and the JFIF APP0 dropped."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    rest = jpeg[2:]
    if rest[:2] == b"\xff\xe0":
        (length,) = struct.unpack(">H", rest[2:4])
        rest = rest[2 + length:]
    return b"\xff\xd8" + exif_app1(orientation) + rest


# ----------------------------------------------------------------------------------------------- labels

def clip(p, size):
    """p if it lies on an image of `size`, else None."""
    if p is None:
        return None
    if -0.5 <= p[0] <= size[0] - 0.5 and -0.5 <= p[1] <= size[1] - 0.5:
        return p
    return None


def rounded(p):
    return None if p is None else [round(p[0], 1), round(p[1], 1)]


def map_face(face, m, size=(W, H)):
    """Annotated face through continuous map m onto an image of `size`, with the derived values."""
    mirrored = np.linalg.det(m[:2, :2]) < 0
    out = {}
    for key in SCALAR_POINTS:
        out[key] = clip(map_point(m, face.get(key)), size)
    eyes = [clip(map_point(m, e), size) for e in face["eyes"]]
    visible = [e for e in eyes if e is not None]
    hidden = [e for e in eyes if e is None]
    out["eyes"] = sorted(visible, key=lambda e: e[0]) + hidden
    outline = [map_point(m, p) for p in face.get("outline", [])]
    if mirrored:
        outline.reverse()
    out["outline"] = [p for p in (clip(p, size) for p in outline) if p is not None]
    if out["chin"] is None:
        raise SystemExit("make_variants: a variant lost its chin outside the image; fix the placement")
    every = [out[k] for k in SCALAR_POINTS] + out["eyes"] + out["outline"]
    every = [p for p in every if p is not None]
    label = {k: rounded(out[k]) for k in ["chin", "nose_tip", "nose_bottom", "upper_lip_top", "mouth",
                                           "lower_lip_bottom"]}
    label["eyes"] = [rounded(e) for e in out["eyes"]]
    label["top"] = rounded(out["top"])
    label["top_y"] = None if out["top"] is None else round(out["top"][1], 1)
    label["head_top"] = rounded(out["head_top"])
    label["head_top_y"] = None if out["head_top"] is None else round(out["head_top"][1], 1)
    label["outline"] = [rounded(p) for p in out["outline"]]
    label["lowest_y"] = round(max(p[1] for p in every), 1)
    label["source_to_image"] = index_matrix(m)
    return label


def face_centre(face):
    """Continuous coordinates of the face centre: halfway between the eyes' midpoint and the chin."""
    eyes = [e for e in face["eyes"] if e is not None]
    ex = sum(e[0] for e in eyes) / len(eyes)
    ey = sum(e[1] for e in eyes) / len(eyes)
    return ((ex + face["chin"][0]) / 2 + 0.5, (ey + face["chin"][1]) / 2 + 0.5)


# ----------------------------------------------------------------------------------------------- main

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Writer:
    def __init__(self, out):
        self.out = out
        self.labels = []

    def save(self, name, image, kind, source, expect, faces, notes, approximate=False, exif=None):
        path = os.path.join(self.out, name)
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        stored = image
        if exif == 6:
            # Orientation 6: the viewer turns the stored pixels 90 degrees clockwise, so store them turned
            # 90 degrees counter-clockwise; the displayed (oriented) image is `image` and the labels use it.
            stored = image.transpose(Image.Transpose.ROTATE_90)
        tmp = path + ".tmp"
        if fmt == "JPEG":
            buf = io.BytesIO()
            stored.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY, optimize=False)
            data = buf.getvalue()
            if exif is not None:
                data = with_exif_orientation(data, exif)
            with open(tmp, "wb") as f:
                f.write(data)
        else:
            if exif is not None:
                raise ValueError("EXIF orientation is only written into JPEGs here")
            stored.save(tmp, "PNG", optimize=False, compress_level=1)  # fast; the files live in .build
        os.replace(tmp, path)
        self.add(name, image.size, stored.size, exif or 1, fmt, kind, source, expect, faces, notes, approximate)

    def copy(self, name, src_path, size, kind, source, expect, faces, notes, approximate=False):
        shutil.copyfile(src_path, os.path.join(self.out, name))
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        self.add(name, size, size, 1, fmt, kind, source, expect, faces, notes, approximate)

    def add(self, name, size, stored_size, orientation, fmt, kind, source, expect, faces, notes, approximate):
        if expect == "no_face" and faces:
            raise ValueError(name + ": no_face with faces")
        if expect == "faces" and not faces:
            raise ValueError(name + ": faces expected but none labelled")
        lowest = None
        if faces:
            lowest = max(range(len(faces)), key=lambda i: faces[i]["lowest_y"])
        self.labels.append({
            "file": name,
            "width": size[0],
            "height": size[1],
            "stored_width": stored_size[0],
            "stored_height": stored_size[1],
            "exif_orientation": orientation,
            "format": fmt,
            "kind": kind,
            "source": source,
            "expect": expect,
            "approximate": approximate,
            "lowest_face": lowest,
            "faces": faces,
            "notes": notes,
        })
        say("  %-32s %4dx%-4d %-7s %d face(s)" % (name, size[0], size[1], expect, len(faces)))


def dump_labels(labels):
    """labels as JSON, one line per image field and per face field (number pairs stay on one line)."""
    lines = ["["]
    for i, e in enumerate(labels):
        lines.append(" {")
        keys = list(e)
        for j, k in enumerate(keys):
            comma = "," if j < len(keys) - 1 else ""
            if k == "faces" and e[k]:
                lines.append("  \"faces\": [")
                for n, face in enumerate(e[k]):
                    fk = list(face)
                    lines.append("   {")
                    for m, key in enumerate(fk):
                        lines.append("    %s: %s%s" % (json.dumps(key), json.dumps(face[key]),
                                                       "," if m < len(fk) - 1 else ""))
                    lines.append("   }" + ("," if n < len(e[k]) - 1 else ""))
                lines.append("  ]" + comma)
            else:
                lines.append("  %s: %s%s" % (json.dumps(k), json.dumps(e[k]), comma))
        lines.append(" }" + ("," if i < len(labels) - 1 else ""))
    lines.append("]")
    text = "\n".join(lines) + "\n"
    if json.loads(text) != labels:
        raise AssertionError("dump_labels changed the data")
    return text


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", required=True, help="directory with the extracted source photos")
    ap.add_argument("--out", required=True, help="output directory (variants and labels.json)")
    ap.add_argument("--annotations", default=os.path.join(here, "annotations.json"))
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = not args.quiet

    with open(args.annotations, encoding="utf-8") as f:
        ann = json.load(f)
    src = {}
    for s in ann["sources"]:
        path = os.path.join(args.sources, s["file"])
        digest = sha256_file(path)
        if digest != s["sha256"]:
            raise SystemExit("make_variants: %s has sha256 %s, annotations.json expects %s"
                             % (path, digest, s["sha256"]))
        im = Image.open(path)
        im.load()
        if list(im.size) != s["size"]:
            raise SystemExit("make_variants: %s is %dx%d, annotations.json says %s" % (path, *im.size, s["size"]))
        src[s["file"]] = (s, im.convert("RGB"), path)
    os.makedirs(args.out, exist_ok=True)
    old_files = set()
    old_labels = os.path.join(args.out, "labels.json")
    if os.path.exists(old_labels):
        try:
            with open(old_labels, encoding="utf-8") as f:
                old_files = {e["file"] for e in json.load(f)}
        except (ValueError, KeyError, TypeError):
            old_files = set()

    out = Writer(args.out)
    a_ann, a_img, a_path = src["astronaut.png"]
    a_face = a_ann["faces"][0]
    aw, ah = a_img.size
    cx, cy = face_centre(a_face)

    # The photo itself, unchanged.
    out.copy("astronaut_original.png", a_path, a_img.size, "original", "astronaut.png", "faces",
             [map_face(a_face, np.eye(3), a_img.size)],
             "The source photo byte for byte (512x512).")

    # (a) Portrait: photo scaled x2 to 1024x1024 at the top of the 1024x1536 canvas, gradient below: the face
    # is in the upper third, as in an AI body shot.
    m_portrait = scale(2.0)
    portrait = compose(seed_of("portrait"), [(a_img, m_portrait)])
    f_portrait = [map_face(a_face, m_portrait)]
    out.save("astronaut_portrait.png", portrait, "portrait", "astronaut.png", "faces", f_portrait,
             "Photo x2 at the top of a 1024x1536 canvas, neutral gradient below; face in the upper third.")
    out.save("astronaut_portrait.jpg", portrait, "portrait", "astronaut.png", "faces", f_portrait,
             "JPEG (quality %d) of astronaut_portrait.png." % JPEG_QUALITY)

    # EXIF orientation 6: stored pixels turned 90 degrees counter-clockwise (1536x1024), oriented image upright.
    out.save("astronaut_exif6.jpg", portrait, "exif_orientation", "astronaut.png", "faces", f_portrait,
             "Stored 1536x1024 with EXIF Orientation 6 (rotate 90 degrees clockwise to display); once oriented it "
             "is astronaut_portrait. Labels, width and height are in ORIENTED coordinates. A reader that ignores "
             "the tag sees the face lying on its side.", exif=6)

    # (b) Rotated about the face centre (in portrait coordinates); the canvas stays 1024x1536.
    pcx, pcy = (m_portrait @ np.array([cx, cy, 1.0]))[:2]
    for deg, name, note in ((15, "astronaut_rot_p15.png", "counter-clockwise"),
                            (-30, "astronaut_rot_m30.jpg", "clockwise")):
        m = rotate_about(pcx, pcy, deg) @ m_portrait
        img = compose(seed_of(name), [(a_img, m)])
        out.save(name, img, "rotated", "astronaut.png", "faces", [map_face(a_face, m)],
                 "astronaut_portrait with the photo rotated %+d degrees (%s as displayed) about the face centre "
                 "(%.1f, %.1f); gradient in the uncovered corners. The lowest face point may be on the jaw "
                 "outline rather than the chin: see lowest_y." % (deg, note, pcx - 0.5, pcy - 0.5))

    # (c) Mirrored left-right.
    m = mirror(W) @ m_portrait
    img = compose(seed_of("mirror"), [(a_img, m)])
    out.save("astronaut_mirror.png", img, "mirrored", "astronaut.png", "faces", [map_face(a_face, m)],
             "astronaut_portrait mirrored left-right (like a mirror selfie). eyes stay sorted left-in-image first.")

    # (d) Two faces side by side at different heights.
    m_left = translate(0.0, 90.0) @ scale(1.0)
    m_right = translate(560.0, 470.0) @ scale(0.8) @ mirror(aw)
    img = compose(seed_of("two_faces"), [(a_img, m_left), (a_img, m_right)])
    out.save("astronaut_two_faces.png", img, "two_faces", "astronaut.png", "faces",
             [map_face(a_face, m_left), map_face(a_face, m_right)],
             "Two copies: left at scale 1.0 placed high, right mirrored at scale 0.8 placed lower. lowest_face is "
             "the index of the face whose lowest_y is largest (here the right one, index 1).")
    m_a = translate(20.0, 520.0) @ scale(0.9)
    m_b = translate(545.0, 140.0) @ scale(0.9)
    img = compose(seed_of("two_faces_same"), [(a_img, m_a), (a_img, m_b)])
    out.save("astronaut_two_faces_same.jpg", img, "two_faces", "astronaut.png", "faces",
             [map_face(a_face, m_a), map_face(a_face, m_b)],
             "The same photo twice at scale 0.9: left one low, right one high (lowest_face 0).")

    # (e) Face cropped at the top edge: the top 30 % of the head (head top to chin) is outside the frame.
    head_h = a_face["chin"][1] - a_face["head_top"][1]
    cut = a_face["head_top"][1] + 0.5 + 0.30 * head_h  # continuous source y that lands on the top edge
    m = translate(0.0, -2.0 * cut) @ m_portrait
    img = compose(seed_of("crop_top"), [(a_img, m)])
    out.save("astronaut_crop_top.png", img, "cropped_top", "astronaut.png", "faces", [map_face(a_face, m)],
             "Portrait shifted up so the top 30%% of the head (source y < %.1f) is outside the frame: head_top is "
             "null, the hairline, eyes and everything below are inside." % (cut - 0.5))
    cut2 = a_face["eyes"][0][1] + 0.5 + 9.0  # just below both eyes
    m = translate(0.0, -2.0 * cut2) @ m_portrait
    img = compose(seed_of("crop_eyes"), [(a_img, m)])
    out.save("astronaut_crop_eyes.jpg", img, "cropped_top", "astronaut.png", "any", [map_face(a_face, m)],
             "Cut just below the eyes (source y < %.1f outside): only nose, lips and chin remain. There IS a face "
             "(labelled), but a detector may not find it; if it does, the same line rules apply, and if it does "
             "not, the item must be flagged." % (cut2 - 0.5))

    # (f) A small face, about 120 px from cheek to cheek, in the 1024x1536 canvas.
    xs = [p[0] for p in a_face["outline"]]
    s_small = 120.0 / (max(xs) - min(xs) + 1)
    m = translate(round((W - aw * s_small) / 2), 60.0) @ scale(s_small)
    img = compose(seed_of("small"), [(a_img, m)])
    out.save("astronaut_small.png", img, "small_face", "astronaut.png", "faces", [map_face(a_face, m)],
             "Photo scaled by %.3f so the face is about 120 px wide (cheek to cheek), top centre of the canvas."
             % s_small)

    # camera.png: hard case, approximate points, any detector outcome accepted (but a miss must be flagged).
    c_ann, c_img, c_path = src["camera.png"]
    c_face = c_ann["faces"][0]
    out.copy("camera_original.png", c_path, c_img.size, "original", "camera.png", "any",
             [map_face(c_face, np.eye(3), c_img.size)],
             "The source photo byte for byte (512x512 greyscale). " + c_ann["notes"], approximate=True)
    m = scale(2.0)
    img = compose(seed_of("camera_portrait"), [(c_img, m)])
    out.save("camera_portrait.jpg", img, "portrait", "camera.png", "any", [map_face(c_face, m)],
             "camera.png x2 at the top of a 1024x1536 canvas. Approximate labels; " + c_ann["notes"],
             approximate=True)

    # (g) No-face canvases.
    def cover(img):
        s = max(W / img.size[0], H / img.size[1])
        return translate((W - img.size[0] * s) / 2, (H - img.size[1] * s) / 2) @ scale(s)

    def top_width(img, y):
        s = W / img.size[0]
        return translate(0.0, y) @ scale(s)

    for name, source, how in (("no_face_coffee.png", "coffee.png", "top"),
                              ("no_face_rocket.jpg", "rocket.jpg", "cover"),
                              ("no_face_hubble.png", "hubble_deep_field.jpg", "cover"),
                              ("no_face_chelsea.jpg", "chelsea.png", "middle")):
        s_ann, s_img, _ = src[source]
        if how == "cover":
            m, desc = cover(s_img), "scaled to cover the whole canvas (centre crop)"
        elif how == "top":
            m, desc = top_width(s_img, 0.0), "scaled to the canvas width at the top, gradient below"
        else:
            m, desc = top_width(s_img, 420.0), "scaled to the canvas width in the middle, gradient above and below"
        img = compose(seed_of(name), [(s_img, m)])
        out.save(name, img, "no_face", source, "no_face", [], "%s %s. %s" % (source, desc, s_ann["notes"]))
    img = compose(seed_of("blank"), [])
    out.save("no_face_gradient.png", img, "no_face", None, "no_face", [],
             "Only the neutral gradient background.")

    names = [e["file"] for e in out.labels]
    if len(set(names)) != len(names):
        raise SystemExit("make_variants: duplicate file names")
    tmp = old_labels + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(dump_labels(out.labels))
    os.replace(tmp, old_labels)
    for stale in sorted(old_files - set(names)):
        path = os.path.join(args.out, stale)
        if os.path.basename(stale) == stale and os.path.exists(path):
            os.remove(path)
            say("  removed stale %s" % stale)
    counts = {}
    for e in out.labels:
        counts[e["expect"]] = counts.get(e["expect"], 0) + 1
    say("  %d images (%s), labels.json written" % (len(out.labels),
                                                      ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items()))))


if __name__ == "__main__":
    main()
