#!/usr/bin/env bash
# `make client-package`: the TypeScript client as a frontend outside this
# repository gets it. npm pack builds the package (ESM and .d.ts, from
# clients/typescript), a fresh Vite + TypeScript app is scaffolded from npm
# (create-vite, vite and typescript pinned below), the tarball is installed
# into it, and the app's code (clients/typescript/package-test) must pass
# `tsc --noEmit` (declarations checked too) and `vite build`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
create_vite=9.3.0 vite=8.3.8 typescript=7.0.2
npm_flags=(--no-audit --no-fund --no-update-notifier)

make -s clients/typescript/node_modules
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(cd clients/typescript && npm pack --silent --pack-destination "$work" | tail -1)
echo "packed $tarball: $(tar -tzf "$work/$tarball" | tr '\n' ' ')"

cd "$work"
npx --yes "create-vite@$create_vite" app --template vanilla-ts --no-interactive >/dev/null
cd app
rm -f src/*.ts
cp "$root"/clients/typescript/package-test/*.ts src/
sed -i 's#<div id="app"></div>#<div id="app"><button id="start">Start</button></div>#' index.html
# Check the installed declarations as well, not only the app's own code.
sed -i 's/"skipLibCheck": true/"skipLibCheck": false/' tsconfig.json
npm install "${npm_flags[@]}" --save-exact -D "vite@$vite" "typescript@$typescript" >/dev/null
npm install "${npm_flags[@]}" "$work/$tarball" >/dev/null
npx tsc --noEmit
npx vite build --logLevel warn
grep -l "Idempotency-Key" dist/assets/*.js >/dev/null || { echo "the bundle lacks the client"; exit 1; }
echo "client package: installed into a Vite $vite + TypeScript $typescript app; tsc --noEmit and vite build pass"
