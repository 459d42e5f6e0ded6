#!/usr/bin/env bash
# The install test: scripts/install-elena-run (what `make install` runs after the release build) with the debug
# binary into a temporary prefix, then what a user sees: the files, the binary on PATH finding its models there,
# completions that load, a man page that renders, and `--uninstall` removing exactly those files and nothing else.
#   Tests/Install/run.sh          needs .build/debug/elena-run (swift build) and .build/models (make models)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
tmp=$(mktemp -d /tmp/elena-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
failures=0
check() {  # check DESCRIPTION COMMAND...: one line per assertion
  if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; failures=$(( failures + 1 )); fi
}
contains() { grep -qF -- "$2" "$1"; }

MODELS=$root/.build/models scripts/install-elena-run "$prefix" .build/debug/elena-run >"$tmp/install.log" 2>&1
rc=$?
cat "$tmp/install.log"
check "install exits 0" test "$rc" = 0
check "it says the prefix's bin is not on PATH and how to add it" contains "$tmp/install.log" "export PATH=\"$prefix/bin:\$PATH\""
for file in bin/elena-run lib/elena-run/libElenaOpenCV.so share/elena-run/models/face_detection_short_range.onnx share/elena-run/models/face_landmark.onnx \
  share/elena-run/models/face_recognition_sface.onnx share/elena-run/models/LICENSE.sface \
  share/bash-completion/completions/elena-run share/zsh/site-functions/_elena-run \
  share/fish/vendor_completions.d/elena-run.fish share/man/man1/elena-run.1; do
  check "installed $file" test -s "$prefix/$file"
done
check "the binary is executable" test -x "$prefix/bin/elena-run"

# Run by name from PATH, with no other model folder to find: the models beside the prefix are found.
env -i HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" PATH="$prefix/bin:/usr/bin:/bin" ELENA_LIBRARY="$tmp/library" \
  elena-run doctor --offline >"$tmp/doctor.log" 2>&1
check "doctor from PATH finds the installed models" contains "$tmp/doctor.log" "ok   face models: $prefix/share/elena-run/models"
check "doctor from PATH loads the installed image library (OpenCV)" contains "$tmp/doctor.log" "ok   opencv: opencv 4."

check "the bash completion defines its function" bash -c "source '$prefix/share/bash-completion/completions/elena-run' && declare -F _elena-run >/dev/null"
check "the bash completion offers the commands" contains "$prefix/share/bash-completion/completions/elena-run" "reconcile"
check "the zsh completion is a compdef" contains "$prefix/share/zsh/site-functions/_elena-run" "#compdef elena-run"
check "the fish completion completes elena-run" contains "$prefix/share/fish/vendor_completions.d/elena-run.fish" "complete -c 'elena-run'"
MANWIDTH=80 man -l "$prefix/share/man/man1/elena-run.1" >"$tmp/man.txt" 2>/dev/null
check "the man page renders with its name and commands" bash -c "grep -q 'ELENA-RUN(1)' '$tmp/man.txt' && grep -q 'reconcile' '$tmp/man.txt'"

# Uninstall: exactly the installed files go; a file of the user's under the same prefix stays.
echo "mine" >"$prefix/bin/other-tool"
scripts/install-elena-run --uninstall "$prefix" >"$tmp/uninstall.log" 2>&1
check "uninstall exits 0" test $? = 0
cat "$tmp/uninstall.log"
left=$(cd "$prefix" && find . -type f | sort | tr '\n' ' ')
check "uninstall leaves only the user's file (left: $left)" test "$left" = "./bin/other-tool "
scripts/install-elena-run --uninstall "$prefix" >"$tmp/again.log" 2>&1
check "a second uninstall says there is nothing to remove" contains "$tmp/again.log" "nothing to remove"

if [ "$failures" -gt 0 ]; then echo "install test: $failures check(s) failed"; exit 1; fi
echo "install test: all checks passed"
