#!/usr/bin/env bash
# Publishes the native AOT `suiron` binary for linux-x64, fails on any trim/AOT warning, then runs smoke.py: every CLI
# command and the server's endpoints against ../shared/models/stories260K.gguf, compared with the JIT build.
# Native AOT links with clang and zlib: installed from Debian when missing (the only network access).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
model="$repo/../shared/models/stories260K.gguf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

linker=()
if ! command -v clang >/dev/null 2>&1; then
  if command -v clang-14 >/dev/null 2>&1 && [ -e /usr/include/zlib.h ]; then
    linker=(-p:CppCompilerAndLinker=clang-14)
  else
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang zlib1g-dev >/dev/null
  fi
elif [ ! -e /usr/include/zlib.h ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zlib1g-dev >/dev/null
fi
command -v python3 >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null; }

start=$(date +%s)
dotnet publish src/Suiron.Cli -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$work/aot" 2>&1 | tee "$work/publish.log"
echo "aot-smoke: published in $(( $(date +%s) - start )) s; binary $(stat -c %s "$work/aot/suiron") bytes"
ls -l "$work/aot"
if [ -e "$work/aot/Suiron.Cli" ] || [ -e "$work/aot/Suiron.Cli.dbg" ]; then
  echo "aot-smoke: the native binary and its symbols must be named suiron, suiron.dbg" >&2
  exit 1
fi
if grep -E "warning (IL|CS)[0-9]+" "$work/publish.log" >/dev/null; then
  echo "aot-smoke: the publish has trim/AOT warnings:" >&2
  grep -E "warning (IL|CS)[0-9]+" "$work/publish.log" | sort -u >&2
  exit 1
fi

jit="$repo/src/Suiron.Cli/bin/Release/net10.0/Suiron.Cli.dll"
[ -f "$jit" ] || dotnet build src/Suiron.Cli -c Release
python3 tests/aot-smoke/smoke.py "$work/aot/suiron" "$jit" "$model" "$work"
