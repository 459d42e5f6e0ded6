#!/bin/sh
# Build and run the native CVision test (not part of the Swift package).
# Usage: Tests/CVisionNative/run.sh [--valgrind]
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$ROOT"
g++ -O1 -g -std=c++17 -Wall -Wextra -I Sources/CVision/include $(pkg-config --cflags opencv4) \
    Sources/CVision/cvision.cpp Tests/CVisionNative/cvision_test.cpp \
    -o "$WORK/cvision_test" $(pkg-config --libs opencv4) -lz

if [ "${1:-}" = "--valgrind" ]; then
    valgrind --leak-check=full --error-exitcode=9 "$WORK/cvision_test"
else
    "$WORK/cvision_test"
fi
