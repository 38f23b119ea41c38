#!/usr/bin/env bash
# The encoder trained in one call of a lent GPU machine, for the generator of the committed state,
# and brought back in parts small enough for the device tool (a returned file may not exceed 16 MiB).
#
#   bash training/device_trip.sh prepare            # the tree cut to 64 MiB, .data packed
#   device: run(timeout_s=590, command="bash training/device_encoder.sh $OUT 7 '--batch 64'")
#   bash training/device_trip.sh restore
#   cat encoder.safetensors.part-* > encoder.safetensors   # then measure it here (MODEL_CARD.md)
#
# The generator and the perceptual trunk come from training/state/g128.safetensors (exported on
# the machine: the exports are deterministic, so they equal weights/'s when the state is the
# shipped one). The encoder starts fresh (the shipped one, 30 MB, does not fit the call beside
# the state and the data). Arguments: OUT, minutes of training, extra train_encoder arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 minutes=$2 extra=${3:-}
work=runs/device_encoder
mkdir -p "$work" "$out"
python3 -m training.state export training/state/g128.safetensors "$work/generator.safetensors" --interim ""
python3 -m training.state export training/state/g128.safetensors "$work/perceptual.safetensors" --perceptual --interim ""
# shellcheck disable=SC2086  # $extra is a list of arguments
python3 -m training.train_encoder --generator "$work/generator.safetensors" \
  --perceptual "$work/perceptual.safetensors" --face-id .data/face_recognition.safetensors \
  --data .data --cache "$work/cache" --run "$work/e128" --k 5 --lambda-feature 1 --lambda-id 0.1 \
  --lambda-latent 1 --noise zero --lr 3e-4 --minutes "$minutes" --ckpt-minutes 2 $extra \
  | tee "$out/train.log"
python3 -m training.export encoder "$work/e128/checkpoint.pt" "$work/encoder.safetensors"
split -b 15M "$work/encoder.safetensors" "$out/encoder.safetensors.part-"
cp "$work/e128/held_out.png" "$out/" 2>/dev/null || true
python3 -m training.editability "$work/encoder.safetensors" --generator "$work/generator.safetensors" \
  --directions .data/directions.safetensors --faces 32 | tee "$out/editability.txt"
