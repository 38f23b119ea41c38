"""The training faces and the identity network packed small enough to travel to a lent GPU
machine with the working tree (64 MiB in all): the 256-px archives brought to 128 px (Lanczos,
what `data.py` does to them anyway, then JPEG quality 90), the 128-px archive as it is, and the
app's identity network for `training/fd.py`. 39 MB instead of 49 MB.

    python3 -m training.pack .data      # then: training.sweep --data .data --face-id .data/face_recognition.safetensors
"""

import argparse
import io
import os
import shutil
import tarfile

from PIL import Image

from training.data import SETS, tar_images
from training.fd import FACE_ID


def shrink_tar(src, out, side, quality):
    """Every image of `src` at `side` px as JPEG, same names, sorted by name."""
    with tarfile.open(out + ".tmp", "w") as packed:
        for name, im in tar_images(src):
            if im.size != (side, side):
                im = im.resize((side, side), Image.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality)
            info = tarfile.TarInfo(name)
            info.size = buf.tell()
            buf.seek(0)
            packed.addfile(info, buf)
    os.replace(out + ".tmp", out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--data", default="../shared/data/faces")
    p.add_argument("--side", type=int, default=128)
    p.add_argument("--quality", type=int, default=90)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name in SETS:
        src, out = os.path.join(a.data, name), os.path.join(a.out, name)
        if f"{a.side}-" in name:  # already at the training size
            shutil.copyfile(src, out)
        else:
            shrink_tar(src, out, a.side, a.quality)
        print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB", flush=True)
    shutil.copyfile(FACE_ID, os.path.join(a.out, os.path.basename(FACE_ID)))


if __name__ == "__main__":
    main()
