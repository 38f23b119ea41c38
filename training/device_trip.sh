#!/usr/bin/env bash
# The working tree made small enough for a lent GPU machine's call (64 MiB), and put back after.
#
#   bash training/device_trip.sh prepare   # untrack fixtures, weights and figures; pack the faces into .data
#   (the device call: training/README.md, "On a lent GPU machine")
#   bash training/device_trip.sh restore   # the index and .git/info/exclude as they were
#
# Nothing is deleted: the untracked files stay on disk, ignored for the trip only.
set -euo pipefail
cd "$(dirname "$0")/.."
EXCLUDE=.git/info/exclude
MARK="# device trip (training/device_trip.sh)"

case "${1:-}" in
  prepare)
    if grep -qF "$MARK" "$EXCLUDE" 2>/dev/null; then echo "already prepared"; exit 0; fi
    if ! git diff --cached --quiet; then echo "the index has staged changes: commit them first" >&2; exit 1; fi
    git rm -r -q --cached tests/fixtures weights
    git ls-files -z '*.png' '*.gif' | xargs -0 -r git rm -q --cached
    mkdir -p "$(dirname "$EXCLUDE")" && touch "$EXCLUDE"
    grep -vxF "/.data/" "$EXCLUDE" >"$EXCLUDE.tmp" || true  # .data travels this time
    printf '%s\n/tests/fixtures/\n/weights/\n/runs/\n*.png\n*.gif\n' "$MARK" >>"$EXCLUDE.tmp"
    mv "$EXCLUDE.tmp" "$EXCLUDE"
    [[ -f .data/face_recognition.safetensors ]] || python3 -m training.pack .data
    cp weights/directions.safetensors .data/  # the sliders, for device_encoder.sh's editability
    size=$( (git ls-files; git ls-files --others --exclude-standard) | sort -u | tr '\n' '\0' \
      | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f 1)
    echo "the call carries $((size / 1048576)) MiB of 64"
    ;;
  restore)
    git reset -q
    if [[ -f $EXCLUDE ]]; then
      awk -v mark="$MARK" '$0 == mark { skip = 6 } skip > 0 { skip--; next } { print }' "$EXCLUDE" >"$EXCLUDE.tmp"
      mv "$EXCLUDE.tmp" "$EXCLUDE"
    fi
    grep -qxF "/.data/" "$EXCLUDE" 2>/dev/null || echo "/.data/" >>"$EXCLUDE"  # kept, never committed
    git status --short | head
    ;;
  *) echo "usage: $0 prepare|restore" >&2; exit 2 ;;
esac
