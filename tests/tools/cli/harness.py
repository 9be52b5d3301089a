"""What the end-to-end CLI scripts share: running bnfold, counting checks,
and the closing line CI reads ("N passed, N failed")."""
import subprocess
import sys


class Harness:
    def __init__(self, bnfold, timeout=600):
        self.bnfold = bnfold
        self.timeout = timeout
        self.passed = 0
        self.failed = 0

    def run(self, *args, timeout=None):
        """bnfold ARGS...; returns (exit code, stdout, stderr)."""
        p = subprocess.run([self.bnfold, *args], capture_output=True, text=True, timeout=timeout or self.timeout)
        return p.returncode, p.stdout, p.stderr

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {name}\n{detail[:3000]}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
