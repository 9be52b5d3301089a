#!/usr/bin/python3
"""Generates the worked example's data for models/tiny_resnet.onnx.

    /usr/bin/python3 models/make_data.py --out build/data

Writes three data sets of 64 samples [3, 32, 32]:
  train/    the distribution tiny_resnet's BN statistics were calibrated on
            (i.i.d. pixels 1.5 * N(0,1) + 0.3), as .npy batches of 16
  heldout/  fresh samples of the same distribution, as one .npz (np.savez_compressed)
  shifted/  the held-out samples seen by "another camera": contrast x0.5,
            brightness +1.0 (x' = 0.5 x + 1.0), as .npy batches of 16
Needs only numpy; seeded, so the files are the same every time.
"""
import argparse
import os

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="build/data")
    p.add_argument("--samples", type=int, default=64)
    args = p.parse_args()
    rng = np.random.default_rng(7)
    shape = (args.samples, 3, 32, 32)
    train = (1.5 * rng.standard_normal(shape) + 0.3).astype(np.float32)
    heldout = (1.5 * rng.standard_normal(shape) + 0.3).astype(np.float32)
    shifted = (0.5 * heldout + 1.0).astype(np.float32)
    for name in ("train", "heldout", "shifted"):
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
    for i in range(0, args.samples, 16):
        np.save(os.path.join(args.out, "train", f"batch{i // 16}.npy"), train[i:i + 16])
        np.save(os.path.join(args.out, "shifted", f"batch{i // 16}.npy"), shifted[i:i + 16])
    np.savez_compressed(os.path.join(args.out, "heldout", "heldout.npz"), *[heldout[i:i + 16] for i in range(0, args.samples, 16)])
    print(f"wrote {args.out}/train, heldout, shifted ({args.samples} samples each)")


if __name__ == "__main__":
    main()
