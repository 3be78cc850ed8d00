#!/usr/bin/env bash
# make run: a control plane on SQLite in a temp data dir and an enforcing
# agent on this host, with a policy that auto-approves short windows for the
# invoking user. On exit it removes the agent's kernel programs and pins.
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "make run: the agent loads kernel programs and needs root; run: sudo make run" >&2
	exit 1
fi
USER_NAME=${SUDO_USER:-${USER:-root}}
DATA=$(mktemp -d /tmp/zpam-run.XXXXXX)
STATE=$DATA/agent-state
SOCK=$DATA/agent.sock
PINS=/sys/fs/bpf/pam-agent
LISTEN=127.0.0.1:7443
HTTP=127.0.0.1:7080
pids=()

cleanup() {
	trap - EXIT INT TERM
	echo
	echo "make run: stopping; removing the agent's kernel programs and pins"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$BIN/pam-agent" uninstall --pin-dir "$PINS" || true
	rm -rf "$DATA"
	echo "make run: sudo on this host is no longer gated by ZPAM"
	exit 0
}
trap cleanup EXIT INT TERM

"$BIN/pam-controlplane" init --data-dir "$DATA/cp" >/dev/null
cat >"$DATA/cp/policy.yaml" <<POLICY
# Written by make run: $USER_NAME may elevate for up to 30 minutes, auto-approved.
roles:
  - name: make-run-self-service
    users: [$USER_NAME]
    max_duration: 30m
    auto_approve: true
    scope: user
POLICY
"$BIN/pam-controlplane" serve --data-dir "$DATA/cp" --listen "$LISTEN" --http "$HTTP" 2>"$DATA/controlplane.log" &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$("$BIN/pam-controlplane" token create --data-dir "$DATA/cp" --ttl 10m)
"$BIN/pam-agent" run --server "$LISTEN" --join-token "$TOKEN" --state-dir "$STATE" \
	--socket "$SOCK" --mode auto 2>"$DATA/agent.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
if [ ! -S "$SOCK" ]; then
	echo "make run: the agent did not start; its log:" >&2
	cat "$DATA/agent.log" >&2
	exit 1
fi
chmod 0755 "$DATA"
MODE=$("$BIN/pamctl" status --socket "$SOCK" --json | sed -n 's/.*"mode": *"\([a-z]*\)".*/\1/p')
cat <<MSG

ZPAM is running on this host (mode: $MODE).
sudo, su and other setuid-root programs are now GATED here: without a grant
they are killed before they run, for every non-root user.

Control plane: gRPC $LISTEN, http://$HTTP/healthz, data in $DATA/cp
Web console: http://$HTTP/ (sign in as a person registered with
  $BIN/pam-controlplane user add NAME --data-dir $DATA/cp)
Logs: $DATA/controlplane.log, $DATA/agent.log

Next, as $USER_NAME in another terminal:
  sudo -n true                       # blocked: no grant
  $BIN/pamctl elevate --socket $SOCK --for 5m --reason "trying zpam"
  sudo -n true                       # works for 5 minutes

Press Ctrl-C to stop; the kernel programs and pins are removed on exit.
MSG
wait -n "${pids[@]}" || true
echo "make run: a component exited; see the logs above" >&2
