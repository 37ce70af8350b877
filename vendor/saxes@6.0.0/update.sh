#!/usr/bin/env bash
# Rebuilds saxes.js from the npm package pinned (with its integrity) in tests/deno.lock:
# `deno bundle` of entry.ts puts saxes and its one dependency, xmlchars, in one ES module,
# which lib/server/http/xml.ts imports by relative path, so the server needs no npm
# registry or cache. The module ids that name the build machine's cache
# become package paths (xmlchars@2.2.0/xml/1.0/ed5.js). Then records the files' SHA-256 in SHA256SUMS (tests check them).
# Run from the repository root: bash vendor/saxes@6.0.0/update.sh
set -euo pipefail
dir=vendor/saxes@6.0.0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
deno bundle --quiet --lock=tests/deno.lock --frozen --format esm --platform deno \
  "$dir/entry.ts" -o "$out"
# The module ids esbuild writes name the build machine's npm cache: make them package paths.
{
  echo '// @ts-self-types="./saxes.d.ts"'
  sed -E 's#[./]*([^ "]*/)?\.cache/deno/npm/registry\.npmjs\.org/(saxes|xmlchars)/([0-9.]+)/#\2@\3/#g' "$out"
} > "$dir/saxes.js"
(cd "$dir" && sha256sum entry.ts saxes.js saxes.d.ts LICENSE LICENSE.xmlchars > SHA256SUMS)
