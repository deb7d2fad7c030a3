#!/usr/bin/env bash
# audit.sh — `make audit`: cargo-deny over the dependency tree (deny.toml): licenses, duplicate crates, sources.
#
# Installs cargo-deny (pinned, --locked) into ~/.cargo/bin when it is missing: about 6 minutes on 2 cores, once.
# Advisories need the RustSec database, which is on GitHub and unreachable from CI (see deny.toml): they are
# checked only with AUDIT_ADVISORIES=1 (`make audit AUDIT_ADVISORIES=1` where GitHub is reachable).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

VERSION=0.20.2

if [[ $(cargo deny --version 2>/dev/null) != *"$VERSION"* ]]; then
  echo "audit.sh: installing cargo-deny $VERSION (one-off, a few minutes)" >&2
  cargo install --locked --version "$VERSION" cargo-deny
fi

checks=(licenses bans sources)
if [[ ${AUDIT_ADVISORIES:-0} == 1 ]]; then
  checks+=(advisories)
else
  echo "audit.sh: advisories skipped (the RustSec database is on GitHub; AUDIT_ADVISORIES=1 to check it)" >&2
fi
# Errors only: a pass is one line. Crates in two versions are allowed (deny.toml says why) and counted instead of
# listed: `cargo deny check bans` or `cargo tree --duplicates` shows them.
cargo deny --locked --log-level error check --hide-inclusion-graph "${checks[@]}"
duplicates=$(cargo tree --locked --duplicates --depth 0 --prefix none --edges normal,build | sed -n '/^[a-z]/p' | sort -u | wc -l)
echo "audit.sh: ok (${checks[*]}); $duplicates crate versions share a name with another (cargo tree --duplicates)"
