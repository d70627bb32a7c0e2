#!/usr/bin/env bash
# Checks the Prometheus alert rules with promtool (syntax, then the rule unit tests). promtool comes from
# Debian's `prometheus` package: when it is not on PATH, the package is downloaded and unpacked into a cache
# directory (no Prometheus server is installed or started).
set -euo pipefail
cd "$(dirname "$0")/.."

find_promtool() {
  if command -v promtool >/dev/null; then command -v promtool; return; fi
  local cache="${BEAMSYNC_CI_CACHE:-${TMPDIR:-/tmp}/beamsync-ci-cache}/prometheus"
  if [ ! -x "$cache/usr/bin/promtool" ]; then
    mkdir -p "$cache" && chmod 0755 "$cache"
    (cd "$cache" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; } \
      && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb) >&2
  fi
  echo "$cache/usr/bin/promtool"
}

promtool="$(find_promtool)"
"$promtool" --version | head -1
cd monitoring/prometheus
"$promtool" check rules beamsync.rules.yml
"$promtool" test rules beamsync.rules.test.yml
