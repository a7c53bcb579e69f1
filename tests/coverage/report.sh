#!/usr/bin/env bash
# Line coverage of vecperf's own code (src/ and include/) from a build compiled with --coverage
# whose tests have run (make coverage does both). Writes BUILD/coverage/vecperf.info and the HTML
# report under BUILD/coverage/html, and prints the summary plus one line per src/ component.
# Usage: tests/coverage/report.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tests/coverage/report.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/coverage
mkdir -p "$out"

lcov --quiet --capture --directory "$build" --base-directory "$root" \
  --output-file "$out/all.info" 2>"$out/lcov.log"
lcov --quiet --extract "$out/all.info" "$root/src/*" "$root/include/*" \
  --output-file "$out/vecperf.info" 2>>"$out/lcov.log"
genhtml --quiet --title vecperf --prefix "$root" --output-directory "$out/html" \
  "$out/vecperf.info" 2>>"$out/lcov.log"

lcov --summary "$out/vecperf.info" 2>&1 | grep -E 'lines|functions'
# Per component: src/<component>/ and include/vecperf/ (LF = lines found, LH = lines hit).
awk -v root="$root/" '
  /^SF:/ { f = substr($0, 4); sub(root, "", f); n = split(f, p, "/");
           c = (p[1] == "src" && n > 2) ? "src/" p[2] : (p[1] == "src" ? "src" : p[1] "/" p[2]) }
  /^LF:/ { lf[c] += substr($0, 4) }
  /^LH:/ { lh[c] += substr($0, 4) }
  END { for (c in lf) printf "  %-18s %6.1f%%  (%d of %d lines)\n", c, 100 * lh[c] / lf[c], lh[c], lf[c] }
' "$out/vecperf.info" | sort
echo "HTML report: $out/html/index.html"
