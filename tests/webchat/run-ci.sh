#!/usr/bin/env bash
# The web chat's tests: Markdown/SSE unit tests (node --test) and the browser test (chat.spec.mjs) driving
# Debian's chromium against a real `suiron serve`. Expects the solution built (dotnet build/test Suiron.slnx -c Release).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
npm ci --no-audit --no-fund
node --test markdown.test.mjs
node chat.spec.mjs
