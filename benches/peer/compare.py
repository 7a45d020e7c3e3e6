"""Runs latentlab and its peers (PyTorch's examples/vae model, the same model in JAX with jit)
side by side on the same IDX files, pinned to the same core, alternating, and prints samples/s
of each and the ratios.

    python3 benches/peer/compare.py [--arch mlp|conv] [--idx DIR] [--rounds 3] [--epochs 2]
        [--core 1] [--latentlab target/release/latentlab] [--peers torch,jax] [--python PY]
        [--baseline OTHER_LATENTLAB_BINARY]

--arch conv compares the convolutional VAE of Burgess et al. 2018 at 64x64 instead
(`--arch conv --models vae --latent-dim 10`, batch 64, Adam lr 1e-3, one thread) with its
PyTorch twin conv_torch.py (the only conv peer; --peers defaults to torch), on the built-in
`sprites` written out as IDX unless --idx is given. Besides the epochs' training samples/s it
prints each run's whole-process rate: items trained over the wall time of the run (start-up,
evaluation, snapshots, figures and saving included), and both sides' last test loss.

--peers picks the peers (vae_torch.py, vae_jax.py beside this file); --python the interpreter
that has torch and jax installed (default: this one). --baseline adds a second latentlab
build to the rotation (an older commit, a build without a feature) with the same arguments.

Without --idx, the built-in digits are written out as IDX first
(`latentlab dataset digits --export-idx DIR`), so anyone can rerun it offline.
With --arch mlp (the default) both train the VAE 784-400-20 at batch 128 with Adam (lr 1e-3) on one thread; the number
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = re.compile(r"^epoch\s+\d+\s+(\d+) samples/s.*?test loss ([\d.]+)")


def run(cmd):
    """Runs a command and returns (samples/s per epoch, last test loss, wall seconds), the first
    two read off its epoch lines."""
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    rows = [EPOCH.match(line.strip()) for line in out.splitlines()]
    rows = [m for m in rows if m]
    if not rows:
        sys.exit(f"no epoch lines from {' '.join(cmd)}:\n{out}")
    return [float(m.group(1)) for m in rows], float(rows[-1].group(2)), wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--idx")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--core", default="1")
    p.add_argument("--latentlab", default="target/release/latentlab")
    p.add_argument("--peers", help="comma-separated: torch, jax (or empty); default torch,jax "
                   "(mlp) or torch (conv)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the peers")
    p.add_argument("--baseline", help="a second latentlab binary to alternate with the first")
    p.add_argument("--torch-flush-denormal", action="store_true",
                   help="let PyTorch flush subnormal floats too, as latentlab does (its default is off)")
    a = p.parse_args()
    conv = a.arch == "conv"
    peers = a.peers if a.peers is not None else ("torch" if conv else "torch,jax")
    tmp = tempfile.mkdtemp(prefix="latentlab-peer-")
    idx = a.idx
    if idx is None:
        idx = os.path.join(tmp, "sprites-idx" if conv else "digits-idx")
        subprocess.run([a.latentlab, "dataset", "sprites" if conv else "digits", "--export-idx", idx],
                       check=True, capture_output=True)
    pin = ["taskset", "-c", a.core]
    batch = "64" if conv else "128"
    common = ["--epochs", str(a.epochs), "--batch-size", batch]
    if conv:
        model = ["--arch", "conv", "--latent-dim", "10"]
    else:
        model = ["--hidden", "400", "--latent-dim", "20"]
    ours_args = ["train", "--dataset", f"idx:{idx}", "--models", "vae"] + model + [
        "--lr", "1e-3", "--threads", "1"] + common
    cmds = {"latentlab": pin + [a.latentlab] + ours_args}
    if a.baseline:
        cmds["baseline"] = pin + [a.baseline] + ours_args
    for peer in filter(None, peers.split(",")):
        if conv:
            if peer != "torch":
                sys.exit(f"no conv peer {peer!r}: conv_torch.py is the only one")
            cmds[peer] = pin + [a.python, os.path.join(HERE, "conv_torch.py"), "--idx", idx,
                                "--latent-dim", "10", "--lr", "1e-3"] + common
        else:
            cmds[peer] = pin + [a.python, os.path.join(HERE, f"vae_{peer}.py"), idx, "--lr", "1e-3"] + common
    if a.torch_flush_denormal and "torch" in cmds:
        cmds["torch"].append("--flush-denormal")
    items = count_items(idx) * a.epochs
    speeds = {name: [] for name in cmds}
    whole = {name: [] for name in cmds}
    for r in range(a.rounds):
        line = []
        for name, cmd in cmds.items():
            if name in ("latentlab", "baseline"):
                cmd = cmd + ["--out", os.path.join(tmp, f"{name}{r}")]
            per_epoch, loss, wall = run(cmd)
            speeds[name].append(statistics.median(per_epoch))
            whole[name].append(items / wall)
            line.append(f"{name} {speeds[name][-1]:7.0f}/s, whole run {whole[name][-1]:6.0f}/s "
                        f"(test loss {loss:.2f})")
        print(f"round {r + 1}: " + "   ".join(line), flush=True)
    medians = {name: statistics.median(v) for name, v in speeds.items()}
    summary = ", ".join(f"{name} {m:.0f} samples/s ({min(speeds[name]):.0f}-{max(speeds[name]):.0f})"
                        for name, m in medians.items())
    print(f"median: {summary}")
    for name in medians:
        if name != "latentlab":
            ratios = [o / t for o, t in zip(speeds["latentlab"], speeds[name])]
            print(f"latentlab / {name}: {medians['latentlab'] / medians[name]:.2f}x "
                  f"(round by round {min(ratios):.2f}-{max(ratios):.2f}x)")
            runs = [o / t for o, t in zip(whole["latentlab"], whole[name])]
            print(f"latentlab / {name}, whole runs: {min(runs):.2f}-{max(runs):.2f}x round by round")


def count_items(idx):
    """The training items in an IDX folder: the count in its image file's header."""
    with open(os.path.join(idx, "train-images-idx3-ubyte"), "rb") as f:
        return int.from_bytes(f.read(8)[4:8], "big")


if __name__ == "__main__":
    main()
