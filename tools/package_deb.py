#!/usr/bin/python3
"""Debian packages of a bnfold build: libbnfold0 (the shared library),
libbnfold-dev (headers, CMake package, pkg-config file), bnfold (the CLI and
its man page, made with help2man) and python3-bnfold (the module and its
type stub).

    /usr/bin/python3 tools/package_deb.py --build build --out build/deb

The build must be a shared-library build (the default). Its install tree,
staged under /usr, is split into the four packages; the dependencies on
Debian's oneDNN, protobuf, ONNX, fmt, zlib and C++ runtime come from
dpkg-shlibdeps, so they name the library packages the binaries link
against. Needs dpkg-dev (dpkg-shlibdeps) and help2man.
"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAINTAINER = "bnfold developers <bnfold@localhost>"
HOMEPAGE = "https://github.com/bnfold/bnfold"

DESCRIPTIONS = {
    "libbnfold0": ("libs", "BatchNormalization folding and BN-aware ONNX inference (library)",
                   "The bnfold runtime: loads ONNX models, folds BatchNormalization into\n"
                   "the layers next to it, runs models on CPUs with oneDNN, and measures\n"
                   "where a model behaves differently in training and in inference."),
    "libbnfold-dev": ("libdevel", "BatchNormalization folding and BN-aware ONNX inference (development files)",
                      "Headers of the C++ and C APIs, the CMake package (find_package(bnfold))\n"
                      "and the pkg-config file of libbnfold."),
    "bnfold": ("science", "fold BatchNormalization into ONNX models and watch BN drift",
               "The bnfold command: fold (BatchNormalization folded into\n"
               "Conv/ConvTranspose/Gemm/MatMul, verified), run, bench, inspect, and the\n"
               "BN tools: audit (batch size one, train mode), drift (has production data\n"
               "left what the model learned?) and recalibrate (re-estimated statistics)."),
    "python3-bnfold": ("python", "BatchNormalization folding and BN-aware ONNX inference (Python 3)",
                       "The bnfold module: Session (numpy in, numpy out, the GIL released),\n"
                       "fold, verify, collect_stats, drift, recalibrate and audit."),
}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def version_of(build):
    out = run([os.path.join(build, "bnfold"), "--version"], env={**os.environ, "LC_ALL": "C"})
    m = re.search(r"(\d+\.\d+\.\d+)", out)
    if not m:
        sys.exit(f"cannot read the version from: {out!r}")
    return m.group(1)


def stage(build, root):
    """cmake --install under root/usr; the module moved to where Debian's python3 looks under /usr."""
    cache = open(os.path.join(build, "CMakeCache.txt")).read()
    if "BUILD_SHARED_LIBS:BOOL=OFF" in cache:
        sys.exit("package_deb: the build is static (-DBUILD_SHARED_LIBS=OFF); packages need the shared library")
    run(["cmake", "--install", build, "--prefix", os.path.join(root, "usr")])
    usr = os.path.join(root, "usr")
    m = re.search(r"^BNFOLD_PYTHON_DIR:STRING=(.*)$", cache, re.M)
    if m and os.path.isdir(os.path.join(usr, m.group(1))):
        want = os.path.join(usr, "lib", "python3", "dist-packages")
        got = os.path.join(usr, m.group(1))
        if os.path.abspath(got) != os.path.abspath(want):
            os.makedirs(os.path.dirname(want), exist_ok=True)
            shutil.move(got, want)
            # Drop the folders the move emptied (lib/python3.11/).
            parent = os.path.dirname(got)
            while parent != usr and not os.listdir(parent):
                os.rmdir(parent)
                parent = os.path.dirname(parent)
    return usr


def man_page(usr, out):
    """bnfold.1 from --help, with every command's --help as a section."""
    cli = os.path.join(usr, "bin", "bnfold")
    env = {**os.environ, "LC_ALL": "C", "COLUMNS": "100"}
    top = run([cli, "--help"], env=env)
    commands = re.findall(r"^  (\w+)\s{2,}", top.split("Subcommands:")[1], re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".h2m", delete=False) as inc:
        inc.write("[COMMANDS]\n")
        for c in commands:
            text = run([cli, c, "--help"], env=env)
            inc.write(f".SS {c}\n.nf\n{text.replace(chr(92), chr(92) * 2)}\n.fi\n")
        inc.write("[SEE ALSO]\ndocs/cli.md of the bnfold sources: the commands' reports, JSON keys and examples.\n")
    try:
        page = run(["help2man", "--no-info", "--no-discard-stderr", "--section", "1",
                    "--name", "fold BatchNormalization into ONNX models and watch BN drift",
                    "--include", inc.name, cli], env=env)
    finally:
        os.unlink(inc.name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(page.encode())


def split(usr, pkgroot):
    """Moves each staged file into its package's tree: {package: [relative paths]}."""
    def owner(rel):
        if rel.startswith("usr/include/") or rel.startswith("usr/lib/cmake/") or rel.startswith("usr/lib/pkgconfig/"):
            return "libbnfold-dev"
        if re.match(r"usr/lib/libbnfold\.so$", rel):
            return "libbnfold-dev"
        if re.match(r"usr/lib/libbnfold\.so\.", rel):
            return "libbnfold0"
        if rel.startswith("usr/lib/python3/"):
            return "python3-bnfold"
        if rel.startswith("usr/bin/") or rel.startswith("usr/share/man/"):
            return "bnfold"
        sys.exit(f"package_deb: no package takes {rel}")

    root = os.path.dirname(usr)
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), root)
            pkg = owner(rel)
            dst = os.path.join(pkgroot, pkg, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(os.path.join(root, rel), dst)
            files.setdefault(pkg, []).append(rel)
    return files


def shlib_depends(tree, binaries, work, exclude=None):
    """dpkg-shlibdeps over the ELF files; libbnfold itself is resolved from the staged library."""
    elves = [os.path.join(tree, b) for b in binaries]
    if not elves:
        return ""
    os.makedirs(os.path.join(work, "debian"), exist_ok=True)
    with open(os.path.join(work, "debian", "control"), "w") as f:
        f.write("Source: bnfold\n\nPackage: bnfold\nArchitecture: any\n")
    out = run(["dpkg-shlibdeps", "-O", "--ignore-missing-info", *([f"-x{exclude}"] if exclude else []), *elves],
              cwd=work,
              env={**os.environ, "LD_LIBRARY_PATH": os.path.join(work, "lib")})
    m = re.search(r"shlibs:Depends=(.*)", out)
    return m.group(1).strip() if m else ""


def build_deb(tree, pkg, version, depends, out):
    section, summary, body = DESCRIPTIONS[pkg]
    arch = run(["dpkg", "--print-architecture"]).strip()
    size = sum(os.lstat(os.path.join(d, n)).st_size for d, _, ns in os.walk(tree) for n in ns) // 1024
    doc = os.path.join(tree, "usr", "share", "doc", pkg)
    os.makedirs(doc, exist_ok=True)
    with open(os.path.join(doc, "copyright"), "w") as f:
        f.write("bnfold\nSee the bnfold sources for the copyright and license.\n")
    control = os.path.join(tree, "DEBIAN")
    os.makedirs(control, exist_ok=True)
    lines = [f"Package: {pkg}", f"Version: {version}-1", f"Architecture: {arch}", f"Maintainer: {MAINTAINER}",
             f"Installed-Size: {max(size, 1)}", f"Section: {section}", "Priority: optional", f"Homepage: {HOMEPAGE}"]
    if depends:
        lines.append(f"Depends: {depends}")
    desc = "\n".join(" " + (l if l else ".") for l in body.splitlines())
    lines.append(f"Description: {summary}\n{desc}")
    with open(os.path.join(control, "control"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if pkg == "libbnfold0":
        with open(os.path.join(control, "shlibs"), "w") as f:
            f.write(f"libbnfold 0 libbnfold0 (>= {version})\n")
        with open(os.path.join(control, "triggers"), "w") as f:
            f.write("activate-noawait ldconfig\n")
    path = os.path.join(out, f"{pkg}_{version}-1_{arch}.deb")
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, path])
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="a configured and built shared-library build folder")
    ap.add_argument("--out", default="build/deb", help="where the .deb files go")
    args = ap.parse_args()
    for tool in ("dpkg-shlibdeps", "help2man", "dpkg-deb"):
        if not shutil.which(tool):
            sys.exit(f"package_deb: {tool} is missing (apt-get install dpkg-dev help2man)")
    version = version_of(args.build)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        usr = stage(args.build, os.path.join(work, "stage"))
        man_page(usr, os.path.join(usr, "share", "man", "man1", "bnfold.1.gz"))
        trees = os.path.join(work, "pkg")
        files = split(usr, trees)
        # dpkg-shlibdeps resolves libbnfold.so.0 from here (and the shlibs file names its package).
        lib = os.path.join(work, "lib")
        os.makedirs(lib)
        for rel in files["libbnfold0"]:
            src = os.path.join(trees, "libbnfold0", rel)
            os.symlink(src, os.path.join(lib, os.path.basename(rel)))
        with open(os.path.join(work, "shlibs.local"), "w") as f:
            f.write(f"libbnfold 0 libbnfold0 (= {version}-1)\n")
        os.makedirs(os.path.join(work, "debian"), exist_ok=True)
        shutil.copy(os.path.join(work, "shlibs.local"), os.path.join(work, "debian", "shlibs.local"))

        def elves(pkg):
            out = []
            for rel in files.get(pkg, []):
                p = os.path.join(trees, pkg, rel)
                if not os.path.islink(p) and open(p, "rb").read(4) == b"\x7fELF":
                    out.append(rel)
            return out

        py = sys.version_info
        deps = {
            "libbnfold0": shlib_depends(os.path.join(trees, "libbnfold0"), elves("libbnfold0"), work, "libbnfold0"),
            "libbnfold-dev": f"libbnfold0 (= {version}-1)",
            "bnfold": shlib_depends(os.path.join(trees, "bnfold"), elves("bnfold"), work),
            "python3-bnfold": ", ".join(filter(None, [
                shlib_depends(os.path.join(trees, "python3-bnfold"), elves("python3-bnfold"), work),
                f"python3 (>= {py.major}.{py.minor}), python3 (<< {py.major}.{py.minor + 1})", "python3-numpy"])),
        }
        for pkg in ("libbnfold0", "libbnfold-dev", "bnfold", "python3-bnfold"):
            if pkg not in files:
                sys.exit(f"package_deb: nothing was installed for {pkg}")
            print(build_deb(os.path.join(trees, pkg), pkg, version, deps[pkg], args.out))
            print(f"  Depends: {deps[pkg]}")


if __name__ == "__main__":
    main()
