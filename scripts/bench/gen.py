#!/usr/bin/env python3
"""Generates the benchmark workloads from a seed, so every run (and every
machine) sees the same file tree.

    gen.py big DIR COUNT MIB SEED      COUNT files of MIB MiB, incompressible
    gen.py small DIR COUNT SEED        COUNT files of 1-16 KiB in nested folders
    gen.py modify DIR PERCENT SEED     rewrite PERCENT% of the files under DIR

Content comes from a seeded generator (random.Random.randbytes), so it does
not compress and is the same for the same seed.
"""
import os
import random
import sys


def big(root, count, mib, seed):
    rnd = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, f"big-{i:02d}.bin"), "wb") as f:
            for _ in range(mib):
                f.write(rnd.randbytes(1 << 20))


def small_path(i):
    # 20 top folders, 10 below each, then files: nesting like a source tree.
    return os.path.join(f"d{i % 20:02d}", f"s{(i // 20) % 10}", f"f{i:06d}.dat")


def small(root, count, seed):
    rnd = random.Random(seed)
    for i in range(count):
        path = os.path.join(root, small_path(i))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rnd.randbytes(rnd.randint(1024, 16 * 1024)))


def modify(root, percent, seed):
    rnd = random.Random(seed)
    files = sorted(
        os.path.join(d, n) for d, _, names in os.walk(root) for n in names
    )
    for path in rnd.sample(files, len(files) * percent // 100):
        with open(path, "wb") as f:
            f.write(rnd.randbytes(rnd.randint(1024, 16 * 1024)))


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "big":
        big(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif kind == "small":
        small(args[0], int(args[1]), int(args[2]))
    elif kind == "modify":
        modify(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(__doc__)
