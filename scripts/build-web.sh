#!/bin/sh
# build-web.sh OUT: build the dashboard into OUT (served by ternd): web/src/
# as it is (plain ES modules), plus the vendor files it imports from npm
# packages pinned by web/package-lock.json. `npm ci` runs only when the
# installed tree does not match the lockfile, so a second build is offline.
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: build-web.sh OUTDIR}
WEB=$REPO/web
NM=$WEB/node_modules

command -v npm >/dev/null 2>&1 || { echo "build-web: npm is missing (make deps)" >&2; exit 1; }
if ! cmp -s "$WEB/package-lock.json" "$NM/.tern-lock" 2>/dev/null; then
    echo "build-web: npm ci (web/package-lock.json)" >&2
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) >&2
    cp "$WEB/package-lock.json" "$NM/.tern-lock"
fi

rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/vendor"
[ -d "$WEB/src" ] && cp -R "$WEB/src/." "$OUT.tmp/"
# ES modules are copied under .js names: every server maps .js to
# text/javascript, which browsers demand of module scripts; .mjs is not
# known to all of them.
cp "$NM/@xterm/xterm/lib/xterm.mjs" "$OUT.tmp/vendor/xterm.js"
cp "$NM/@xterm/addon-fit/lib/addon-fit.mjs" "$OUT.tmp/vendor/addon-fit.js"
cp "$NM/@xterm/xterm/css/xterm.css" "$NM/uplot/dist/uPlot.esm.js" "$NM/uplot/dist/uPlot.min.css" \
   "$OUT.tmp/vendor/"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
touch "$OUT/.built"
