#!/usr/bin/env bash
# test.sh — what `make test` (and CI) runs: start the throwaway test stack,
# then `cargo fmt --check`, `cargo clippy -D warnings`, `cargo test`,
# scripts/schemathesis.sh (the API against its own OpenAPI document),
# scripts/browser-test.sh (the web client end to end in Chromium) against
# it, then chaos drills 1 and 5 (scripts/chaos.sh, on ports of its own).
# Every step runs even if an earlier one failed; the stack is always torn
# down; the exit status is non-zero if anything failed.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="$ROOT_DIR/scripts/stack.sh"
cd "$ROOT_DIR"

FAILED=()

teardown() {
  local rc=$?
  trap - EXIT
  "$STACK" down test || echo "test.sh: warning: 'stack.sh down test' failed" >&2
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
  local name="$1"
  shift
  printf '\n==> %s: %s\n' "$name" "$*" >&2
  if "$@"; then
    printf '==> %s: ok\n' "$name" >&2
  else
    printf '==> %s: FAILED (exit %s)\n' "$name" "$?" >&2
    FAILED+=("$name")
  fi
}

# rustfmt/clippy are rustup components that minimal toolchains may lack.
ensure_component() {
  local subcommand="$1" component="$2"
  cargo "$subcommand" --version >/dev/null 2>&1 && return 0
  if command -v rustup >/dev/null; then
    echo "test.sh: installing rustup component $component" >&2
    rustup component add "$component" >&2 || true
  fi
}

main() {
  ensure_component fmt rustfmt
  ensure_component clippy clippy

  "$STACK" up test
  eval "$("$STACK" env test)"

  step fmt cargo fmt --all -- --check
  step clippy cargo clippy --all-targets -- -D warnings
  step test cargo test --all-targets
  step schemathesis "$ROOT_DIR/scripts/schemathesis.sh"
  step browser "$ROOT_DIR/scripts/browser-test.sh"
  step k8s "$ROOT_DIR/scripts/k8s-check.sh"
  step prometheus "$ROOT_DIR/scripts/prometheus-check.sh"
  step loadtest-check "$ROOT_DIR/loadtest/check.sh"
  # Failover on every change: the Patroni/HAProxy topology, the primary killed and a pod killed under load, checked.
  step chaos env CHAOS_SKIP_BUILD=1 "$ROOT_DIR/scripts/chaos.sh" --drills 1,5

  if ((${#FAILED[@]})); then
    printf '\ntest.sh: FAILED steps: %s\n' "${FAILED[*]}" >&2
    return 1
  fi
  printf '\ntest.sh: all steps passed\n' >&2
}

main "$@"
