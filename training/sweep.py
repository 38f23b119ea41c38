"""Several generator runs side by side on one lent GPU machine, each checkpoint scored as it
appears (identity-space Fréchet distance, `training/fd.py`), and the best states kept where
the device tool brings files back — the one call of a session's device time, planned ahead:

    python3 -m training.sweep --out "$OUT" --minutes 8 --data .data \\
        --run join32 "--resume-state training/state/g128.safetensors --top-only-until-kimg 196 --batch 32" \\
        --run fresh "--res 128 --channels 256,256,256,128,64,32 --batch 32"

Each run is a `train_generator` process in `runs/NAME` (checkpoints every `--ckpt-minutes`).
`--out` receives `sweep.log` (every score, and each trainer's last lines) and two states
(`training/state.py`'s format, in parts under 15 MiB, since a file brought back may not exceed
16 MiB: `cat best.safetensors.part-* > state.safetensors`) with their sample grids: `best`, the
lowest score of any checkpoint, and `latest`, the newest checkpoint of the run whose newest
score is lowest — the one to continue when scores were still falling at the end. A starting
state given with `--baseline` is scored first, for reference.
"""

import argparse
import glob
import os
import shlex
import shutil
import subprocess
import sys
import time

from training import state as saved_state
from training.data import load_faces
from training.fd import FACE_ID, Scorer, load_generator_ema
from training.util import device_and_threads

PART = 15 * 1024 * 1024


class Log:
    def __init__(self, path):
        self.f = open(path, "a")

    def __call__(self, line):
        line = f"{time.strftime('%H:%M:%S')} {line}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def write_parts(src, stem):
    """`src` as `stem.part-aa`, `-ab`, … of at most PART bytes (old parts removed first)."""
    for old in glob.glob(stem + ".part-*"):
        os.remove(old)
    with open(src, "rb") as f:
        for i, chunk in enumerate(iter(lambda: f.read(PART), b"")):
            with open(f"{stem}.part-a{chr(ord('a') + i)}", "wb") as out:
                out.write(chunk)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--runs", default="runs")
    p.add_argument("--data", default="../shared/data/faces")
    p.add_argument("--real", default=None, help="real faces for the score (default: DATA/ffhq256-real-1000.tar)")
    p.add_argument("--face-id", default=FACE_ID)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--ckpt-minutes", type=float, default=1.0)
    p.add_argument("--res", type=int, default=128, help="the faces' size (the cache the runs share)")
    p.add_argument("--baseline", default=None, help="a state file to score first")
    p.add_argument("--run", nargs=2, action="append", metavar=("NAME", "ARGS"), required=True,
                   help="a run's name and its train_generator arguments")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    log = Log(os.path.join(a.out, "sweep.log"))
    dev = device_and_threads()
    cache = os.path.join(a.runs, "cache")
    load_faces(a.data, a.res, cache)  # decoded once, before the runs share the cache
    score = Scorer(a.real or os.path.join(a.data, "ffhq256-real-1000.tar"), dev, a.face_id)
    if a.baseline:
        g, nimg = load_generator_ema(a.baseline, dev)
        log(f"baseline {a.baseline}: {nimg / 1000:.1f} kimg, FD {score(g):.4f}")
    procs, seen, best, latest = {}, {}, {}, {}
    deadline = time.time() + a.minutes * 60
    for name, args in a.run:
        run = os.path.join(a.runs, name)
        os.makedirs(run, exist_ok=True)
        cmd = [sys.executable, "-m", "training.train_generator", "--run", run, "--data", a.data, "--cache", cache,
               "--minutes", str(a.minutes), "--ckpt-minutes", str(a.ckpt_minutes)] + shlex.split(args)
        env = dict(os.environ, OMP_NUM_THREADS="2")
        procs[name] = subprocess.Popen(cmd, stdout=open(os.path.join(run, "trainer.out"), "w"),
                                       stderr=subprocess.STDOUT, env=env)
        log(f"started {name}: {' '.join(cmd[3:])}")

    def publish(kind, entry):
        """One state and its samples into --out as `kind`."""
        name, (fd, kimg, state_file, samples) = entry
        write_parts(state_file, os.path.join(a.out, f"{kind}.safetensors"))
        if os.path.exists(samples):
            shutil.copy(samples, os.path.join(a.out, f"{kind}_samples.png"))
        log(f"published {kind}: {name} at {kimg:.1f} kimg, FD {fd:.4f}")

    def kept_files(name, kind):
        return (os.path.join(a.runs, name, f"{kind}.safetensors"),
                os.path.join(a.runs, name, f"{kind}_samples.png"))

    def keep(name, ckpt, fd, nimg, kind):
        """The checkpoint as the run's `kind` state (f16), with the samples written beside it."""
        state_file, samples = kept_files(name, kind)
        saved_state.save(ckpt, state_file)
        grid = os.path.join(a.runs, name, "samples.png")  # written just after the checkpoint
        for _ in range(60):
            if os.path.exists(grid) and os.path.getmtime(grid) >= os.path.getmtime(ckpt):
                break
            time.sleep(1)
        if os.path.exists(grid):
            shutil.copy(grid, samples)
        return fd, nimg / 1000, state_file, samples

    def copied(name, entry, kind):
        """A kept state and its samples copied under `kind`'s names (saved once, kept twice)."""
        fd, kimg, *files = entry
        targets = kept_files(name, kind)
        for src, dst in zip(files, targets):
            if os.path.exists(src):
                shutil.copy(src, dst)
        return (fd, kimg, *targets)

    def poll():
        published = dict(best=min(best.items(), key=lambda kv: kv[1][0], default=None),
                         latest=min(latest.items(), key=lambda kv: kv[1][0], default=None))
        for name in procs:
            ckpt = os.path.join(a.runs, name, "checkpoint.pt")
            if not os.path.exists(ckpt) or os.path.getmtime(ckpt) == seen.get(name):
                continue
            seen[name] = os.path.getmtime(ckpt)
            try:
                g, nimg = load_generator_ema(ckpt, dev)
            except (RuntimeError, EOFError, KeyError) as e:  # caught mid-write: next round
                log(f"{name}: checkpoint unreadable for now ({e.__class__.__name__})")
                seen.pop(name)
                continue
            fd = score(g)
            log(f"{name}: {nimg / 1000:.1f} kimg, FD {fd:.4f}")
            latest[name] = keep(name, ckpt, fd, nimg, "latest")
            if name not in best or fd < best[name][0]:
                best[name] = copied(name, latest[name], "best")
        for kind, runs in (("best", best), ("latest", latest)):
            top = min(runs.items(), key=lambda kv: kv[1][0], default=None)
            if top is not None and top != published[kind]:
                publish(kind, top)

    while any(pr.poll() is None for pr in procs.values()):
        poll()
        if time.time() > deadline + 60:  # the trainers stop themselves at --minutes
            for pr in procs.values():
                pr.terminate()
        time.sleep(5)
    poll()
    for name, pr in procs.items():
        tail = open(os.path.join(a.runs, name, "trainer.out")).read().splitlines()[-4:]
        log(f"{name} exited {pr.returncode}; last lines:\n  " + "\n  ".join(tail))


if __name__ == "__main__":
    main()
