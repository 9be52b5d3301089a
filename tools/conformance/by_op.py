#!/usr/bin/python3
"""The share of ONNX's conformance node cases bnfold runs and passes, per op:
reads conformance_run_all.txt (written by `bnfold_tests '[.all]'`, which runs
every case) and each case's model, and prints a markdown table. A case counts
for the ops of its model's nodes (an `_expanded` case for the op it expands,
named by the case without the suffix).

    cd build && tests/bnfold_tests '[.all]' && /usr/bin/python3 ../tools/conformance/by_op.py conformance_run_all.txt ../tests/data/onnx-tests
"""
import collections
import os
import sys

import onnx


def main():
    results, cases_dir = sys.argv[1], sys.argv[2]
    outcome = dict(line.rstrip("\n").split("\t", 1) for line in open(results) if line.startswith("node/"))
    op_of = {}
    for case in outcome:
        base = case[: -len("_expanded")] if case.endswith("_expanded") else case
        model = os.path.join(cases_dir, base, "model.onnx")
        try:
            ops = {n.op_type for n in onnx.load(model).graph.node}
        except Exception:  # noqa: BLE001 (a model onnx 1.12 cannot read)
            ops = {"(unreadable)"}
        op_of[case] = sorted(ops)[0] if len(ops) == 1 else "/".join(sorted(ops))
    per_op = collections.defaultdict(lambda: [0, 0])
    for case, result in outcome.items():
        per_op[op_of[case]][1] += 1
        per_op[op_of[case]][0] += result == "PASS"
    passed = sum(p for p, _ in per_op.values())
    total = sum(t for _, t in per_op.values())
    print(f"{passed} of {total} node cases pass ({100 * passed / total:.1f}%)\n")
    print("| op | pass | cases |")
    print("|---|---|---|")
    for op in sorted(per_op):
        p, t = per_op[op]
        print(f"| {op} | {p} | {t} |")


if __name__ == "__main__":
    main()
