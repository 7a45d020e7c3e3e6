"""The peer of `--arch conv`: the convolutional VAE of Burgess et al. 2018 ("Understanding
disentangling in beta-VAE", disentanglement_lib's architecture) at 64x64 in PyTorch, the
same network as latentlab's (src/model/conv.rs):

  encoder: four Conv2d(4x4, stride 2, padding 1) to 32 channels, ReLU (64 -> 32 -> 16 -> 8 -> 4),
           dense 512 -> 256 -> 256 (ReLU), then mu and log sigma^2 heads
  decoder: dense z -> 256 -> 256 -> 512 (ReLU), four ConvTranspose2d(4x4, stride 2,
           padding 1), ReLU between, the last to 1 channel: logits
  loss:    Bernoulli (BCE with logits, summed over pixels) + KL, nats per item; Adam.

    python3 benches/peer/conv_torch.py [--idx DIR] [--epochs 2] [--batch-size 64]
        [--latent-dim 10] [--lr 1e-3] [--items 4096] [--init he|he-conv|torch]

--init he (the default) starts it as latentlab starts a conv model: every weight uniform in
+-sqrt(6 / fan_in) (kaiming_uniform_ for ReLU), biases zero. --init torch keeps PyTorch's own
defaults, with which this network stays at the mean image of `sprites` (see init()).

Without --idx it trains on random binary 64x64 blobs made from a seed (--items of them, an
eighth more for the test split), the same kind of items `cargo bench --bench conv` times
latentlab on; with --idx it reads the MNIST-layout IDX files of any 64x64 grey set
(`latentlab dataset NAME --export-idx DIR`). Prints one line per epoch in the format of
vae_torch.py: training samples/s (training only) and the test loss per item in nats, then
the median over its full batches of one step's samples/s (what `cargo bench --bench conv`
reports as its median, so a busy machine's outliers weigh the same on both sides).
One thread (torch.set_num_threads(1)); pin it with `taskset -c 1` to compare.
"""
import argparse
import os
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vae_torch import read_idx  # noqa: E402


def blobs(n, side, seed):
    """n binary side x side images, each one to three filled ellipses at random places."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    out = torch.zeros(n, side * side)
    for i in range(n):
        img = torch.zeros(side, side, dtype=torch.bool)
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            cy, cx = (torch.rand(2, generator=g) * side).tolist()
            ry, rx = (torch.rand(2, generator=g) * side / 4 + 2).tolist()
            img |= ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1
        out[i] = img.flatten().float()
    return out


class ConvVAE(nn.Module):
    def __init__(self, latent, channels=1):
        super().__init__()
        convs = []
        c = channels
        for _ in range(4):
            convs += [nn.Conv2d(c, 32, 4, 2, 1), nn.ReLU()]
            c = 32
        self.convs = nn.Sequential(*convs)
        self.trunk = nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.mu = nn.Linear(256, latent)
        self.logvar = nn.Linear(256, latent)
        self.dense = nn.Sequential(
            nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU()
        )
        deconvs = []
        for i in range(4):
            deconvs.append(nn.ConvTranspose2d(32, 32 if i < 3 else channels, 4, 2, 1))
            if i < 3:
                deconvs.append(nn.ReLU())
        self.deconvs = nn.Sequential(*deconvs)
        self.channels = channels

    def forward(self, x):
        b = x.shape[0]
        h = self.trunk(self.convs(x.view(b, self.channels, 64, 64)).flatten(1))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.deconvs(self.dense(z).view(b, 32, 4, 4)).flatten(1)
        return logits, mu, logvar


def init(model, how):
    """latentlab's initialisation of a conv model (src/model/conv.rs): "he" draws every weight
    with kaiming_uniform_(nonlinearity="relu"), U(+-sqrt(6 / fan_in)) with PyTorch's fan_in
    (a transposed convolution's from its weight's dim 1, its output channels, times 16), and
    zeroes every bias; "he-conv" does so for the (transposed) convolutions only; "torch" keeps
    PyTorch's defaults (U(+-1/sqrt(fan_in)) weights and biases)."""
    if how == "torch":
        return
    kinds = (nn.Conv2d, nn.ConvTranspose2d) + ((nn.Linear,) if how == "he" else ())
    for m in model.modules():
        if isinstance(m, kinds):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def loss_function(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idx")
    p.add_argument("--items", type=int, default=4096)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--init", choices=["he", "he-conv", "torch"], default="he",
                   help="initialisation (see init()); he is latentlab's")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True), as latentlab does; PyTorch's default is off")
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(a.flush_denormal)
    torch.manual_seed(a.seed)
    if a.idx:
        train = read_idx(os.path.join(a.idx, "train-images-idx3-ubyte")).reshape(-1, 4096).float() / 255
        test = read_idx(os.path.join(a.idx, "t10k-images-idx3-ubyte")).reshape(-1, 4096).float() / 255
    else:
        train = blobs(a.items, 64, a.seed)
        test = blobs(a.items // 8, 64, a.seed + 1)
    model = ConvVAE(a.latent_dim)
    init(model, a.init)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        steps = []
        for idx in torch.randperm(len(train)).split(a.batch_size):
            step_start = time.perf_counter()
            x = train[idx]
            opt.zero_grad()
            logits, mu, logvar = model(x)
            # The batch mean, as latentlab's objective.
            loss = loss_function(logits, x, mu, logvar) / len(x)
            loss.backward()
            opt.step()
            steps.append((len(x), time.perf_counter() - step_start))
        secs = time.perf_counter() - start
        full = sorted(t for n, t in steps if n == a.batch_size)
        median_step = full[len(full) // 2] if full else float("nan")
        model.eval()
        with torch.no_grad():
            total = 0.0
            for x in test.split(256):
                logits, mu, logvar = model(x)
                total += loss_function(logits, x, mu, logvar).item()
        print(f"epoch {epoch:3} {len(train) / secs:7.0f} samples/s  test loss {total / len(test):.2f}"
              f"  (median step {a.batch_size / median_step:.0f} samples/s)", flush=True)


if __name__ == "__main__":
    main()
