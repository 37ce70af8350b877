#!/usr/bin/env bash
# Rebuilds libphonenumber.js from entry.ts (run from the repository root or this folder):
# the npm package comes through tests/deno.lock (its integrity checked), the build machine's
# cache paths in the bundle's comments become package paths, and the header is put back.
set -euo pipefail
cd "$(dirname "$0")"
version=1.13.17
out=$(mktemp)
trap 'rm -f "$out"' EXIT
deno bundle --lock=../../tests/deno.lock --platform=deno -o "$out" entry.ts
{
  printf '// @ts-self-types="./libphonenumber.d.ts"\n'
  printf '// libphonenumber-js %s (MIT, LICENSE; its metadata derives from Google libphonenumber,\n' "$version"
  printf '// Apache 2.0, LICENSE.Apache), the "min" metadata build, bundled by `deno bundle` from entry.ts.\n'
  printf '// Generated: do not edit (lib/model/phones.ts says why it is vendored).\n'
  sed -E "s#[./]*([^ ]*/)?\\.cache/deno/npm/registry\\.npmjs\\.org/libphonenumber-js/$version/#libphonenumber-js@$version/#g" "$out"
} > libphonenumber.js
