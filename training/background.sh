#!/usr/bin/env bash
# The bundled-model trainer as a background job at idle priority (see training/README.md).
#
#   bash training/background.sh start    # resume the 128-px run (its checkpoint, else training/state)
#   bash training/background.sh pause    # SIGSTOP, e.g. while benchmarking or building
#   bash training/background.sh resume   # SIGCONT
#   bash training/background.sh stop     # checkpoint, then exit (waits for it)
#   bash training/background.sh status   # running/paused/stopped + the last log line
#   bash training/background.sh save     # stop, then write training/state/g128.safetensors
#
# Runs from the repository root. RUN (default ~/.cache/facestyle-train/g128) holds the
# checkpoint; it does not survive a machine, the committed state does.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-$HOME/.cache/facestyle-train/g128}"
STATE="training/state/g128.safetensors"
PIDFILE="$RUN/trainer.pid"
mkdir -p "$RUN"

pid() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"; }

case "${1:-status}" in
  start)
    if p=$(pid); then echo "already running (pid $p)"; exit 0; fi
    # passive OpenMP waiting: idle worker threads sleep instead of spinning, so the trainer
    # takes only the CPU time nothing else wants
    OMP_WAIT_POLICY=PASSIVE nohup nice -n 19 python3 -m training.train_generator \
      --run "$RUN" --resume-state "$STATE" \
      --d-warmup-kimg "${D_WARMUP_KIMG:-8}" --precision "${PRECISION:-auto}" \
      --minutes "${MINUTES:-100000}" --ckpt-minutes "${CKPT_MINUTES:-5}" \
      ${LR:+--lr "$LR"} ${G_LR:+--g-lr "$G_LR"} ${R1_GAMMA:+--r1-gamma "$R1_GAMMA"} ${MIXING:+--mixing "$MIXING"} ${BATCH:+--batch "$BATCH"} ${EMA_KIMG:+--ema-kimg "$EMA_KIMG"} ${LR_WARMUP_KIMG:+--lr-warmup-kimg "$LR_WARMUP_KIMG"} ${TOP_ONLY_KIMG:+--train-top-only-kimg "$TOP_ONLY_KIMG"} \
      ${TOP_ONLY_UNTIL_KIMG:+--top-only-until-kimg "$TOP_ONLY_UNTIL_KIMG"} \
      ${JOIN_RAMP_KIMG:+--join-ramp-kimg "$JOIN_RAMP_KIMG"} \
      ${OLD_LR_SCALE:+--old-lr-scale "$OLD_LR_SCALE"} ${FREEZE_MAPPING:+--freeze-mapping} ${WIDEN_TOP:+--widen-top "$WIDEN_TOP"} ${REGROW_D:+--regrow-d} >>"$RUN/trainer.out" 2>&1 &
    echo $! >"$PIDFILE"
    echo "started (pid $!), log: $RUN/trainer.out"
    ;;
  pause)
    p=$(pid) || { echo "not running"; exit 0; }
    kill -STOP "$p"; echo "paused (pid $p)" ;;
  resume)
    p=$(pid) || { echo "not running"; exit 0; }
    kill -CONT "$p"; echo "resumed (pid $p)" ;;
  stop|save)
    if p=$(pid); then
      kill -CONT "$p"; kill -TERM "$p"
      while kill -0 "$p" 2>/dev/null; do sleep 1; done
      echo "stopped (checkpoint written)"
    else
      echo "not running"
    fi
    rm -f "$PIDFILE"
    if [[ $1 == save ]]; then
      python3 -m training.state save "$RUN/checkpoint.pt" "$STATE"
    fi
    ;;
  status)
    if p=$(pid); then
      st=$(ps -o stat= -p "$p"); [[ $st == T* ]] && echo "paused (pid $p)" || echo "running (pid $p)"
    else
      echo "stopped"
    fi
    tail -n 1 "$RUN/trainer.out" 2>/dev/null || true
    ;;
  *) echo "usage: $0 start|pause|resume|stop|save|status" >&2; exit 2 ;;
esac
