#!/usr/bin/env bash
# Guarded live smoke of crabbox-cs against real GitHub Codespaces.
#
#   CRABBOX_LIVE=1 CRABBOX_GITHUB_CODESPACES_REPO=owner/repo scripts/live-smoke.sh
#
# Does nothing unless CRABBOX_LIVE=1 and a repository is given. Then:
#   doctor → warmup (short idle timeout, short retention) → status --wait
#   → run --no-sync -- echo crabbox-codespaces-ok → a tiny synced run
#   → stop --delete → verify that no claim-owned codespace remains
# and ends with exactly one line on stdout:
#   classification=<live_github_codespaces_smoke_passed | environment_blocked |
#     auth_blocked | quota_or_billing_blocked | repo_policy_blocked |
#     ssh_server_missing | validation_failed>
# The exit status is 0 only for live_github_codespaces_smoke_passed.
#
# The classification comes from crabbox-cs's exit codes and its --json error
# codes (docs/json.md, docs/exit-codes.md); the table is in docs/lifecycle.md.
#
# Optional:
#   CRABBOX_BIN                 binary to test (default dist/crabbox-cs, built with bun if missing)
#   CRABBOX_SMOKE_TIMEOUT       warmup/status wait (default 15m)
#   CRABBOX_SMOKE_STOP_TIMEOUT  stop/delete wait (default 5m)
#   CRABBOX_SMOKE_KEEP_HOME=1   keep the smoke's private CRABBOX_HOME afterwards
#
# The token is never read, printed or passed on a command line by this script:
# crabbox-cs finds it itself (GH_TOKEN, GITHUB_TOKEN, or `gh auth token`).
set -uo pipefail

if [ "${CRABBOX_LIVE:-}" != "1" ] || [ -z "${CRABBOX_GITHUB_CODESPACES_REPO:-}" ]; then
  echo "live smoke skipped: set CRABBOX_LIVE=1 and CRABBOX_GITHUB_CODESPACES_REPO=owner/repo to run it (it creates and deletes a real codespace)" >&2
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CRABBOX_BIN:-$ROOT/dist/crabbox-cs}"
TIMEOUT="${CRABBOX_SMOKE_TIMEOUT:-15m}"
STOP_TIMEOUT="${CRABBOX_SMOKE_STOP_TIMEOUT:-5m}"
LEASE=""
FINISHED=0

log() { printf 'live-smoke: %s\n' "$*" >&2; }

# A private claim store: the smoke sees (and verifies) only its own leases.
SMOKE_HOME="$(mktemp -d "${TMPDIR:-/tmp}/crabbox-smoke.XXXXXX")" || { echo "classification=environment_blocked"; exit 1; }
export CRABBOX_HOME="$SMOKE_HOME/crabbox-home"
OUT="$SMOKE_HOME/out"
ERR="$SMOKE_HOME/err"

finish() {
  # $1 = classification. Prints the one classification line, last.
  local cls="$1"
  FINISHED=1
  if [ -n "$LEASE" ] && [ "$cls" != "live_github_codespaces_smoke_passed" ]; then
    log "releasing lease $LEASE after the failure"
    "$BIN" stop "$LEASE" --delete --timeout "$STOP_TIMEOUT" >/dev/null 2>"$ERR.cleanup" || {
      log "could not release lease $LEASE: $(tail -n 3 "$ERR.cleanup" 2>/dev/null)"
      log "its claim is kept in $CRABBOX_HOME: finish with CRABBOX_HOME=$CRABBOX_HOME $BIN stop $LEASE --delete"
      CRABBOX_SMOKE_KEEP_HOME=1
    }
  fi
  if [ "${CRABBOX_SMOKE_KEEP_HOME:-}" = "1" ]; then log "kept $SMOKE_HOME"; else rm -rf "$SMOKE_HOME"; fi
  echo "classification=$cls"
  [ "$cls" = "live_github_codespaces_smoke_passed" ] && exit 0
  exit 1
}
trap '[ "$FINISHED" = 1 ] || finish validation_failed' EXIT
trap 'finish validation_failed' INT TERM

# The stable error code of the last --json failure ("" if none): the first
# "code" key of {"error": {"code": …}}, read without jq.
error_code() {
  grep -o '"code": *"[a-z0-9_]*"' "$OUT" 2>/dev/null | head -n 1 | sed 's/.*"\([a-z0-9_]*\)"$/\1/'
}

# Map a crabbox-cs error code (and exit status) to a classification.
classify() {
  local code="$1" status="$2"
  case "$code" in
    auth_rejected|auth_missing|auth_missing_scope|gh_auth) echo auth_blocked ;;
    billing|rate_limited) echo quota_or_billing_blocked ;;
    forbidden|permissions_not_accepted|no_machines|machine_not_offered|repo_not_found) echo repo_policy_blocked ;;
    ssh_server_missing) echo ssh_server_missing ;;
    gh_not_found|gh_missing|gh_timeout|tools_missing|ssh_not_found|ssh_connect|ssh_timeout|rsync_not_found|rsync_too_old|network|api_timeout|github_unavailable|wait_timeout|state_dir_unusable|state_dir_not_owned|config_invalid|config_token|config_api_url|repo_unknown|usage_repo)
      echo environment_blocked ;;
    "")
      case "$status" in
        3) echo auth_blocked ;;
        7) echo ssh_server_missing ;;
        255) echo environment_blocked ;;
        *) echo validation_failed ;;
      esac ;;
    *) echo validation_failed ;;
  esac
}

# doctor --json prints checks, not one error: classify by the first failed
# check's error code when doctor reports one, else by the check's name and text.
classify_doctor() {
  local first name code detail
  first="$(awk '
    function val(line, key) { sub(".*\"" key "\": *\"", "", line); sub(/",? *$/, "", line); return line }
    /^  \{/ { name = ""; ok = ""; code = ""; detail = "" }
    /^    "check":/ { name = val($0, "check") }
    /^    "ok": false/ { ok = "false" }
    /^    "code": "/ { code = val($0, "code") }
    /^    "detail":/ { detail = val($0, "detail") }
    /^  \}/ && ok == "false" && detail !~ /^skipped/ { print name "\037" code "\037" detail; exit }
  ' "$OUT")"
  IFS=$'\037' read -r name code detail <<<"$first"
  if [ -n "$code" ]; then classify "$code" 1; return; fi
  case "$detail" in
    *"HTTP 402"*|*billing*|*"rate limit"*|*"spending limit"*) echo quota_or_billing_blocked; return ;;
    *"codespace\` scope"*|*"codespace scope"*) echo auth_blocked; return ;;
    *"Could not reach GitHub"*|*"did not answer"*|*"having trouble"*) echo environment_blocked; return ;;
  esac
  case "$name" in
    tools|gh|claims) echo environment_blocked ;;
    auth) echo auth_blocked ;;
    repository|codespaces|machines|permissions) echo repo_policy_blocked ;;
    *) echo validation_failed ;;
  esac
}

# Run one step: print it, keep stdout in $OUT, stream stderr. Returns the exit status.
step() {
  log "\$ crabbox-cs $*"
  "$BIN" "$@" >"$OUT" 2> >(tee "$ERR" >&2)
  local status=$?
  wait 2>/dev/null
  return $status
}

fail_step() {
  # $1 = exit status of the failed step
  local code cls
  code="$(error_code)"
  cls="$(classify "$code" "$1")"
  log "failed (exit $1${code:+, error code $code}) → $cls"
  finish "$cls"
}

# --- 0. the binary ---------------------------------------------------------
if [ ! -x "$BIN" ]; then
  if [ -z "${CRABBOX_BIN:-}" ] && command -v bun >/dev/null 2>&1; then
    log "building $BIN"
    (cd "$ROOT" && bun build.ts) >&2 || finish environment_blocked
  else
    log "no crabbox-cs binary at $BIN (build it: npm run build)"
    finish environment_blocked
  fi
fi
for tool in ssh rsync git; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is not on PATH"; finish environment_blocked; }
done

# --- 1. doctor (changes nothing) --------------------------------------------
step doctor --json
status=$?
if [ "$status" -ne 0 ]; then
  cls="$(classify_doctor)"
  log "doctor failed (exit $status) → $cls"
  finish "$cls"
fi

# --- 2. warmup: a small codespace that stops and goes away on its own -------
step warmup --json --timeout "$TIMEOUT" --ttl 30m \
  --github-codespaces-idle-timeout 10m --github-codespaces-retention-period 1h \
  --github-codespaces-delete-on-release
status=$?
LEASE="$(grep -o '"leaseId": *"cbx_[a-z2-7]*"' "$OUT" | head -n 1 | sed 's/.*"\(cbx_[a-z2-7]*\)"$/\1/')"
if [ "$status" -ne 0 ]; then
  # A failed warmup releases what it could; anything still claimed is released by finish.
  LEASE="$(ls "$CRABBOX_HOME/claims" 2>/dev/null | sed -n 's/^\(cbx_[a-z2-7]*\)\.json$/\1/p' | head -n 1)"
  fail_step "$status"
fi
[ -n "$LEASE" ] || { log "warmup --json printed no leaseId"; finish validation_failed; }
CODESPACE="$(grep -o '"name": *"[^"]*"' "$OUT" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')"
log "lease $LEASE, codespace $CODESPACE"

# --- 3. status --wait -------------------------------------------------------
step status "$LEASE" --wait --timeout "$TIMEOUT" --json || fail_step $?
grep -q '"state": *"ready"' "$OUT" || { log "status does not say ready"; finish validation_failed; }
grep -q '"state": *"Available"' "$OUT" || { log "the codespace is not Available"; finish validation_failed; }

# --- 4. a command without sync -----------------------------------------------
step run --id "$LEASE" --no-sync -- echo crabbox-codespaces-ok || fail_step $?
grep -qx 'crabbox-codespaces-ok' "$OUT" || { log "run printed no crabbox-codespaces-ok"; finish validation_failed; }

# --- 5. a tiny synced run from a throw-away checkout -------------------------
SYNC_DIR="$SMOKE_HOME/sync"
mkdir -p "$SYNC_DIR" && (
  cd "$SYNC_DIR" &&
    git init -q &&
    printf 'crabbox-sync-%s\n' "$$-$RANDOM" >crabbox-smoke.txt
) || finish environment_blocked
expected="$(cat "$SYNC_DIR/crabbox-smoke.txt")"
(cd "$SYNC_DIR" && step run --id "$LEASE" -- cat crabbox-smoke.txt) || fail_step $?
grep -qx "$expected" "$OUT" || { log "the synced file did not arrive"; finish validation_failed; }

# --- 6. release: stop, then delete (the codespace has no work of ours) -------
step stop "$LEASE" --delete --timeout "$STOP_TIMEOUT" --json || fail_step $?
grep -q '"action": *"deleted"' "$OUT" || { log "stop did not delete the codespace"; finish validation_failed; }
LEASE=""

# --- 7. nothing claim-owned remains -----------------------------------------
step list --json || fail_step $?
if [ "$(tr -d ' \n' <"$OUT")" != "[]" ]; then log "leases remain after stop"; finish validation_failed; fi
# cleanup --dry-run reports codespaces named like ours that no claim holds (changes nothing).
step cleanup --dry-run --json || fail_step $?
if [ -n "$CODESPACE" ] && grep -q "\"$CODESPACE\"" "$OUT"; then
  log "GitHub still lists codespace $CODESPACE, and no claim holds it"
  finish validation_failed
fi

finish live_github_codespaces_smoke_passed
