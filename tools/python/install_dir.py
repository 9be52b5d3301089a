"""Where `cmake --install --prefix PREFIX` puts the bnfold module so that this
interpreter finds it: the first of its own sys.path folders under PREFIX
(Debian: PREFIX/lib/python3/dist-packages for /usr,
PREFIX/lib/python3.X/dist-packages for /usr/local), else the posix_prefix
scheme's platlib (PREFIX/lib/python3.X/site-packages: add it to PYTHONPATH).
Prints the path relative to PREFIX."""
import os
import sys
import sysconfig

prefix = os.path.abspath(sys.argv[1])
for p in sys.path:
    if p and p.startswith(prefix + os.sep) and os.path.basename(p) in ("dist-packages", "site-packages"):
        print(os.path.relpath(p, prefix))
        break
else:
    path = sysconfig.get_path("platlib", "posix_prefix", vars={"base": prefix, "platbase": prefix})
    print(os.path.relpath(path, prefix))
