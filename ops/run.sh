#!/usr/bin/env bash
# Sets up, builds and starts riposte on its embedded default store
# (RocksDB under ./data), expecting Ollama at http://127.0.0.1:11434.
# Extra arguments go to riposte (see ./build/riposte --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
bash ops/build.sh
exec ./build/riposte "$@"
