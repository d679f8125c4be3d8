#!/usr/bin/env bash
# Vendors the prebuilt assets of the documentation UIs from npm, where the
# binary embeds them (no CDN at run time):
#   Swagger UI (swagger-ui-dist) into internal/httpx/swaggerui/, served at /docs
#   ReDoc (redoc's standalone bundle) into internal/httpx/redoc/, served at /redoc
# Usage: scripts/vendor-docs-ui.sh [SWAGGER_UI_VERSION [REDOC_VERSION]]
set -euo pipefail
swagger_version=${1:-5.35.0}
redoc_version=${2:-3.0.1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# vendor PACKAGE VERSION DEST FILE... copies FILEs of the npm package.
vendor() {
  local pkg=$1 version=$2 dest=$3; shift 3
  mkdir -p "$tmp/$pkg"
  (cd "$tmp/$pkg" && npm pack --silent "$pkg@$version" >/dev/null && tar xzf ./*.tgz)
  for f in "$@"; do cp "$tmp/$pkg/package/$f" "$dest/$(basename "$f")"; done
  echo "$version" > "$dest/VERSION"
  echo "$pkg $version vendored into $dest"
}
vendor swagger-ui-dist "$swagger_version" "$root/internal/httpx/swaggerui" \
  swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css favicon-32x32.png LICENSE NOTICE
vendor redoc "$redoc_version" "$root/internal/httpx/redoc" bundles/redoc.standalone.js LICENSE
