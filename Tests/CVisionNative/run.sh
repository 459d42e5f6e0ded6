#!/bin/sh
# Build and run the native CVision tests (not part of the Swift package).
# Usage: Tests/CVisionNative/run.sh [--valgrind | --bench]
#   (none)      cvision_test (decode, encode, ...) and cvision_face_test (detector on test photos)
#   --valgrind  both under valgrind --leak-check=full; the face part creates a detector, detects 5 images
#               and destroys it, and fails on any "definitely lost" block
#   --bench     the face detector's timings on 1024x1536 images, single thread
# The face test needs the models (scripts/install-models, run here; silent when already installed) and
# photos from the scikit-image 0.26.0 wheel on PyPI (downloaded once into .build/dl, sha256-checked, read
# with python zipfile into a temp dir). If either cannot be had, the run FAILS; it is never skipped.
# Overlays (landmarks drawn: 152 chin red, 2 nose bottom green, 0/13/14/17 lips blue, jaw arc orange) are
# written to .build/face-overlays/.
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
MODE="${1:-}"
case "$MODE" in ""|--valgrind|--bench) ;; *) echo "usage: $0 [--valgrind | --bench]" >&2; exit 2 ;; esac

SKIMAGE_WHEEL=scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
SKIMAGE_SHA256=74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af
PHOTOS="astronaut.png camera.png coffee.png rocket.jpg chelsea.png motorcycle_left.png"

cd "$ROOT"
CXXFLAGS="-O2 -g -std=c++17 -Wall -Wextra -I Sources/CVision/include $(pkg-config --cflags opencv4)"
LIBS="$(pkg-config --libs opencv4) -lXNNPACK -lz"  # opencv_dnn: the reference engine; XNNPACK: the default one
for src in Sources/CVision/cvision.cpp Sources/CVision/cvision_face.cpp Sources/CVision/cvision_net.cpp Sources/CVision/cvision_identity.cpp; do
    g++ $CXXFLAGS -c "$src" -o "$WORK/$(basename "$src" .cpp).o"
done
g++ $CXXFLAGS Tests/CVisionNative/cvision_test.cpp "$WORK/cvision.o" "$WORK/cvision_face.o" "$WORK/cvision_net.o" -o "$WORK/cvision_test" $LIBS
g++ $CXXFLAGS Tests/CVisionNative/cvision_face_test.cpp "$WORK/cvision.o" "$WORK/cvision_face.o" "$WORK/cvision_net.o" "$WORK/cvision_identity.o" \
    -o "$WORK/cvision_face_test" $LIBS

# Models and photos.
scripts/install-models || { echo "FAIL: scripts/install-models failed; the face test cannot run" >&2; exit 1; }
MODELS="$ROOT/.build/models"
wheel=".build/dl/$SKIMAGE_WHEEL"
if [ ! -f "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$SKIMAGE_SHA256" ]; then
    rm -f "$wheel"
    echo "downloading scikit-image==0.26.0 (test photos) from PyPI into .build/dl"
    .build/modelenv/bin/python -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.11 --platform manylinux_2_28_x86_64 scikit-image==0.26.0 -d .build/dl </dev/null \
        || { echo "FAIL: cannot download the test photos (scikit-image==0.26.0 from PyPI)" >&2; exit 1; }
    got="$(sha256sum "$wheel" 2>/dev/null | cut -d' ' -f1)"
    [ "$got" = "$SKIMAGE_SHA256" ] \
        || { echo "FAIL: $wheel: sha256 expected $SKIMAGE_SHA256, got ${got:-no file}" >&2; exit 1; }
fi
mkdir -p "$WORK/photos"
# shellcheck disable=SC2086  # PHOTOS is a word list
python3 - "$wheel" "$WORK/photos" $PHOTOS <<'EOF' || { echo "FAIL: cannot extract the test photos" >&2; exit 1; }
import struct, sys, zipfile
wheel, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]

def without_iccp(png):
    # Drops iCCP chunks (libpng warns "known incorrect sRGB profile" about these files); pixels unchanged.
    out, i = bytearray(png[:8]), 8
    while i < len(png):
        length, kind = struct.unpack(">I4s", png[i:i + 8])
        if kind != b"iCCP":
            out += png[i:i + 12 + length]
        i += 12 + length
    return bytes(out)

with zipfile.ZipFile(wheel) as z:
    for name in names:
        data = z.read(f"skimage/data/{name}")
        with open(f"{out}/{name}", "wb") as f:
            f.write(without_iccp(data) if name.endswith(".png") else data)
EOF
OVERLAYS="$ROOT/.build/face-overlays"
mkdir -p "$OVERLAYS"
rm -f "$OVERLAYS"/*.png

case "$MODE" in
--valgrind)
    valgrind --leak-check=full --error-exitcode=9 "$WORK/cvision_test"
    # OpenCV keeps some allocations for the process lifetime ("possibly lost"/"still reachable" thread
    # pools and caches); only definite leaks fail the run.
    # valgrind.supp: one known harmless report from libcpuinfo (XNNPACK's CPU probe), explained there.
    valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
        --suppressions="$ROOT/Tests/CVisionNative/valgrind.supp" \
        "$WORK/cvision_face_test" "$MODELS" "$WORK/photos" "$OVERLAYS" --leak
    ;;
--bench)
    "$WORK/cvision_face_test" "$MODELS" "$WORK/photos" "$OVERLAYS" --bench
    ;;
*)
    "$WORK/cvision_test"
    "$WORK/cvision_face_test" "$MODELS" "$WORK/photos" "$OVERLAYS"
    ;;
esac
