#!/usr/bin/env bash
# Ours vs PyTorch eager, row by row, on this machine: `facestyle bench all` and
# bench/torch/bench.py alternate ROUNDS times (the machine is shared: single runs vary), each
# row keeps its best median over the rounds, and the table gives ours/PyTorch per row.
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
    rows = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{prefix}.{r}.tsv"):
            name, b, med, p90 = line.rstrip("\n").split("\t")
            key = (name, int(b))
            if key not in rows or float(med) < rows[key][0]:
                rows[key] = (float(med), float(p90))
    return rows
ours, torch = best("ours"), best("torch")
print("\n| row | batch | ours median ms | PyTorch median ms | ours / PyTorch |")
print("| --- | ---: | ---: | ---: | ---: |")
for key, (m, _) in ours.items():
    t = torch.get(key)
    ratio = f"{m / t[0]:.2f}×" if t else "n/a"
    print(f"| {key[0]} | {key[1]} | {m:.1f} | {t[0]:.1f} | {ratio} |" if t else
          f"| {key[0]} | {key[1]} | {m:.1f} | n/a | n/a |")
PY
