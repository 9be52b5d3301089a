#!/usr/bin/python3
"""Drift over a data set too big for one machine: each Dask worker collects the
BN input statistics of its shards, a tree reduction merges them (Chan's
formula: the result equals one pass over everything), and the verdict comes
from the merged statistics.

    # A local cluster on this machine (2 worker processes):
    PYTHONPATH=build/python /usr/bin/python3 tools/examples/python/drift_on_dask.py \\
        models/tiny_resnet.onnx build/data/shifted/*.npy --baseline base.json

    # A real cluster: start `dask scheduler` somewhere and `dask worker tcp://HOST:8786`
    # on each machine (each with bnfold importable and the shard paths readable,
    # e.g. on a shared file system), then pass the scheduler's address:
    ... drift_on_dask.py MODEL SHARDS... --scheduler tcp://HOST:8786

Nothing here is Dask-specific but the scheduling: a shard's statistics are a
bnfold.Stats (picklable), and partial statistics files written anywhere (a batch
scheduler, a Spark job: Stats.save or `bnfold drift --save-stats`) merge the same
way, with `bnfold drift MODEL --merge a.json --merge b.json ...`.
"""
import argparse

import bnfold


def shard_stats(model, shard, batch=32, threads=1):
    """A worker's part: the statistics of one shard (paths, an array, or an iterable of arrays)."""
    return bnfold.collect_stats(model, shard, batch=batch, threads=threads)


def merge_two(a, b):
    return a.merge(b)


def collect_on_dask(client, model, shards, batch=32, threads=1):
    """Statistics of all shards, collected on the cluster's workers and merged in a tree
    (log2(shards) rounds; no worker ever holds more than two partial results)."""
    parts = client.map(shard_stats, [model] * len(shards), shards, batch=batch, threads=threads, pure=False)
    while len(parts) > 1:
        merged = [client.submit(merge_two, parts[i], parts[i + 1], pure=False) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            merged.append(parts[-1])
        parts = merged
    return parts[0].result()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("shards", nargs="+", help="data files or folders; each is one shard")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (default: a local cluster)")
    ap.add_argument("--workers", type=int, default=2, help="local cluster: worker processes")
    ap.add_argument("--baseline", help="statistics of in-distribution data (bnfold drift --save-stats)")
    ap.add_argument("--save-stats", help="also write the merged statistics here")
    args = ap.parse_args()

    from dask.distributed import Client, LocalCluster  # Debian: python3-distributed

    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1)
    with Client(args.scheduler or cluster) as client:
        stats = collect_on_dask(client, args.model, args.shards)
    if cluster:
        cluster.close()
    if args.save_stats:
        stats.save(args.save_stats)
    report = bnfold.drift(args.model, stats=stats, baseline=args.baseline)
    print(f"{stats.samples} samples in {len(args.shards)} shards: {report['verdict']}")
    for layer in report["layers"]:
        if layer["drifted"]:
            print(f"  {layer['bn']}: distance {layer['distance']:.3g} = {layer['ratio']:.3g}x sampling noise")


if __name__ == "__main__":
    main()
