#!/usr/bin/env bash
# Vendors Swagger UI's prebuilt assets from npm's swagger-ui-dist into
# internal/httpx/swaggerui/, where the binary embeds them (no CDN at run time).
# Usage: scripts/update-swagger-ui.sh [VERSION]
set -euo pipefail
version=${1:-5.35.0}
dest=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/internal/httpx/swaggerui
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for f in swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "$tmp/package/$f" "$dest/$f"
done
echo "$version" > "$dest/VERSION"
echo "Swagger UI $version vendored into $dest"
