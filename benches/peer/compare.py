"""Runs latentlab and PyTorch's examples/vae model side by side on the same IDX files,
pinned to the same core, alternating, and prints samples/s of each and the ratio.

    python3 benches/peer/compare.py [--idx DIR] [--rounds 3] [--epochs 2] [--core 1]
        [--latentlab target/release/latentlab]

Without --idx, the built-in digits are written out as IDX first
(`latentlab dataset digits --export-idx DIR`), so anyone can rerun it offline.
Both train the VAE 784-400-20 at batch 128 with Adam (lr 1e-3) on one thread; the number
per run is the median over its epochs of training samples/s (evaluation excluded).
latentlab flushes subnormal floats to zero while training; PyTorch does not by default, which
slows it from the second epoch on. --torch-flush-denormal turns it on for PyTorch too.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = re.compile(r"^epoch\s+\d+\s+(\d+) samples/s.*?test loss ([\d.]+)")


def run(cmd):
    """Runs a command and returns (samples/s per epoch, last test loss) read off its epoch lines."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [EPOCH.match(line.strip()) for line in out.splitlines()]
    rows = [m for m in rows if m]
    if not rows:
        sys.exit(f"no epoch lines from {' '.join(cmd)}:\n{out}")
    return [float(m.group(1)) for m in rows], float(rows[-1].group(2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idx")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--core", default="1")
    p.add_argument("--latentlab", default="target/release/latentlab")
    p.add_argument("--torch-flush-denormal", action="store_true",
                   help="let PyTorch flush subnormal floats too, as latentlab does (its default is off)")
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="latentlab-peer-")
    idx = a.idx
    if idx is None:
        idx = os.path.join(tmp, "digits-idx")
        subprocess.run([a.latentlab, "dataset", "digits", "--export-idx", idx], check=True, capture_output=True)
    pin = ["taskset", "-c", a.core]
    common = ["--epochs", str(a.epochs), "--batch-size", "128"]
    ours_cmd = pin + [a.latentlab, "train", "--dataset", f"idx:{idx}", "--models", "vae", "--hidden", "400",
                      "--latent-dim", "20", "--lr", "1e-3", "--threads", "1"] + common
    torch_cmd = pin + [sys.executable, os.path.join(HERE, "vae_torch.py"), idx, "--lr", "1e-3"] + common
    if a.torch_flush_denormal:
        torch_cmd.append("--flush-denormal")
    ours, theirs = [], []
    for r in range(a.rounds):
        o, o_loss = run(ours_cmd + ["--out", os.path.join(tmp, f"run{r}")])
        t, t_loss = run(torch_cmd)
        ours.append(statistics.median(o))
        theirs.append(statistics.median(t))
        print(f"round {r + 1}: latentlab {ours[-1]:7.0f}/s (test loss {o_loss:.2f})   "
              f"pytorch {theirs[-1]:7.0f}/s (test loss {t_loss:.2f})", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(f"median: latentlab {mo:.0f} samples/s, pytorch {mt:.0f} samples/s, ratio {mo / mt:.2f}x")


if __name__ == "__main__":
    main()
