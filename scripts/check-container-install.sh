#!/usr/bin/env bash
# Runs the Dockerfile's install steps in a fresh virtual environment (no
# container engine needed), starts the installed service as the image does
# (tokens from a mounted file, never from the image) and checks that it
# answers: /healthz, an authorized decision 200, an unauthenticated one 401.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
python3.12 -m venv "$work/venv" 2>/dev/null || python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" install --quiet .
cp -r rules "$work/rules"
# What the operator mounts at POLICY_TOKENS_FILE: a token made for this run only.
token=$("$py" -c 'import secrets; print(secrets.token_urlsafe(32))')
cat > "$work/tokens.yaml" <<YAML
tokens:
  - name: install-check
    token: "$token"
    scopes: [decide]
YAML
cd "$work"
"$work/venv/bin/policy-service" rules check rules
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u POLICY_DEV_NO_AUTH POLICY_PORT="$port" POLICY_RULES_DIR="$work/rules" \
    POLICY_TOKENS_FILE="$work/tokens.yaml" "$work/venv/bin/policy-service" serve &
pid=$!
# The checks, in Python: status codes of /healthz and of a decision with and without the token.
status() {
    "$py" - "$port" "$@" <<'PY'
import json, sys, urllib.error, urllib.request
port, path, token = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
headers, data = {}, None
if path == "/v1/decisions":
    event = {"event_id": "install-check", "account": "acme", "occurred_at": "2026-11-25T10:00:00Z",
             "text": "Love the new app!", "author": {"id": "u1"}}
    data, headers = json.dumps(event).encode(), {"Content-Type": "application/json"}
if token:
    headers["Authorization"] = f"Bearer {token}"
request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
try:
    with urllib.request.urlopen(request, timeout=5) as answer:
        print(answer.status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print("down")
PY
}
for _ in $(seq 150); do
    if [ "$(status /healthz)" = 200 ]; then
        echo "installed service answers /healthz"
        authorized=$(status /v1/decisions "$token")
        anonymous=$(status /v1/decisions)
        echo "decision with the token: $authorized, without: $anonymous"
        if [ "$authorized" = 200 ] && [ "$anonymous" = 401 ]; then
            exit 0
        fi
        echo "expected 200 with the token and 401 without" >&2
        exit 1
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "installed service exited" >&2
        exit 1
    fi
    sleep 0.2
done
echo "installed service did not answer" >&2
exit 1
