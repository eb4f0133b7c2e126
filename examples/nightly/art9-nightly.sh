#!/bin/sh
# Nightly incremental art9 scan: reports only the notes new or changed since the last night
# (README "Incremental runs"). Run by cron or by art9-nightly.service.
#
# Settings (environment; defaults below):
#   ART9               the art9 binary
#   ART9_SOURCE        the input: a file, or a database URL (sqlite:FILE, postgres://..., env:)
#   ART9_SCAN_ARGS     how to read it (--table, --field, --key, --subject, --policy, ...)
#   ART9_DIR           where the state, the baseline and each night's output are kept
#   ART9_HASH_KEY_FILE a file holding the key (>= 16 bytes, the same every night), unless
#                      ART9_HASH_KEY is set already
# Exit code: art9's (0 nothing new, 1 new findings, 2 error). The state is only updated by
# a run that read its whole input, so a failed night is caught up by the next one.
set -eu

ART9=${ART9:-/usr/local/bin/art9}
ART9_SOURCE=${ART9_SOURCE:-env:}
ART9_SCAN_ARGS=${ART9_SCAN_ARGS:---table notes --field body --key id --subject customer_id --policy default}
ART9_DIR=${ART9_DIR:-/var/lib/art9}

if [ -z "${ART9_HASH_KEY:-}" ]; then
    ART9_HASH_KEY=$(cat "${ART9_HASH_KEY_FILE:?set ART9_HASH_KEY or ART9_HASH_KEY_FILE}")
    export ART9_HASH_KEY
fi

night=$(date -u +%Y-%m-%d)
mkdir -p "$ART9_DIR/runs" "$ART9_DIR/findings"
baseline=""
if [ -f "$ART9_DIR/review.baseline.jsonl" ]; then
    baseline="--baseline $ART9_DIR/review.baseline.jsonl --stale-out $ART9_DIR/runs/$night.stale.jsonl"
fi

status=0
# shellcheck disable=SC2086 # the argument lists are split on purpose
"$ART9" scan "$ART9_SOURCE" $ART9_SCAN_ARGS \
    --state "$ART9_DIR/nightly.state" $baseline \
    --fingerprints --format jsonl -q \
    --summary-out "$ART9_DIR/runs/$night.json" \
    > "$ART9_DIR/findings/$night.jsonl" || status=$?

case $status in
    0) echo "art9 nightly $night: nothing new" ;;
    1) echo "art9 nightly $night: $(wc -l < "$ART9_DIR/findings/$night.jsonl") new findings in $ART9_DIR/findings/$night.jsonl" ;;
    *) echo "art9 nightly $night: failed (exit $status); the state was not updated" >&2 ;;
esac
exit $status
