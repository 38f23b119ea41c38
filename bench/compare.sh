#!/usr/bin/env bash
# Ours vs PyTorch eager, row by row, on this machine: `facestyle bench all` and
# bench/torch/bench.py alternate ROUNDS times (the machine is shared: single runs vary), each
# row keeps its best median over the rounds, and the table gives ours/PyTorch per row and
# each side's peak resident memory (the highest over the rounds).
#
#   bash bench/compare.sh                 # the bundled model, 20 runs per row, 2 rounds
#   MODEL=ffhq1024 RUNS=5 BATCHES=1 ROUNDS=1 bash bench/compare.sh
#
# Needs a release build (cargo build --release) and python3 with torch, numpy, safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${MODEL:-app}" RUNS="${RUNS:-20}" ROUNDS="${ROUNDS:-2}" THREADS="${THREADS:-$(nproc)}"
BATCHES="${BATCHES:-1,8}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/facestyle}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release (or set BIN)" >&2; exit 1; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: ours" >&2
  "$BIN" --device cpu bench all --model "$([ "$MODEL" = app ] && echo app || echo ffhq1024)" \
    --runs "$RUNS" --batch "$BATCHES" --tsv "$OUT/ours.$r.tsv" > "$OUT/ours.$r.txt"
  echo "round $r/$ROUNDS: PyTorch" >&2
  python3 bench/torch/bench.py --model "$MODEL" --runs "$RUNS" --threads "$THREADS" --batches "$BATCHES" \
    --tsv "$OUT/torch.$r.tsv" > "$OUT/torch.$r.txt"
done
head -n 1 "$OUT/ours.1.txt"
head -n 1 "$OUT/torch.1.txt"
python3 - "$OUT" "$ROUNDS" <<'PY'
import sys
out, rounds = sys.argv[1], int(sys.argv[2])
def best(prefix):
    """Per row: the best median over the rounds, its p90, and the highest peak RSS (MB)."""
    rows = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{prefix}.{r}.tsv"):
            name, b, med, p90, peak = line.rstrip("\n").split("\t")
            key = (name, int(b))
            peak = None if peak == "n/a" else float(peak)
            old = rows.get(key)
            top = max([p for p in (peak, old and old[2]) if p is not None], default=None)
            if old is None or float(med) < old[0]:
                rows[key] = (float(med), float(p90), top)
            else:
                rows[key] = (old[0], old[1], top)
    return rows
ours, torch = best("ours"), best("torch")
mb = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
print("\n| row | batch | ours median ms | PyTorch median ms | ours / PyTorch | ours peak MB | PyTorch peak MB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for key, (m, _, peak) in ours.items():
    t = torch.get(key)
    if t:
        print(f"| {key[0]} | {key[1]} | {m:.1f} | {t[0]:.1f} | {m / t[0]:.2f}× | {mb(peak)} | {mb(t[2])} |")
    else:
        print(f"| {key[0]} | {key[1]} | {m:.1f} | n/a | n/a | {mb(peak)} | n/a |")
PY
