#!/usr/bin/env bash
# Runs the Dockerfile's install steps in a fresh virtual environment (no
# container engine needed) and starts the installed service once.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3.12 -m venv "$work/venv" 2>/dev/null || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" install --quiet .
cp -r rules "$work/rules"
cd "$work"
"$work/venv/bin/policy-service" rules check rules
POLICY_PORT=18080 POLICY_RULES_DIR="$work/rules" "$work/venv/bin/policy-service" serve &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    if "$work/venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18080/healthz', timeout=1)" 2>/dev/null; then
        echo "installed service answers /healthz"
        exit 0
    fi
    sleep 0.2
done
echo "installed service did not answer" >&2
exit 1
