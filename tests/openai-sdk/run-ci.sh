#!/usr/bin/env bash
# The official OpenAI SDK (pinned in package.json / package-lock.json) against a real `suiron serve`:
# responses.test.mjs under node's test runner. Expects the solution built (dotnet build/test Suiron.slnx -c Release).
# The npm install is the only network access; the tests talk to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node --test responses.test.mjs
