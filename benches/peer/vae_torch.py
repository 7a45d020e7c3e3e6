"""The peer: PyTorch's examples/vae model (784-400-20, ReLU, Bernoulli decoder, Adam),
trained on the same MNIST-layout IDX files that `latentlab train --dataset idx:DIR` reads.

    python3 benches/peer/vae_torch.py DIR [--epochs 2] [--batch-size 128] [--lr 1e-3]

Prints one line per epoch: training samples/s (training only, as latentlab's epoch line),
and the test loss per item in nats (BCE summed over pixels + KL), as latentlab reports it.
One thread (torch.set_num_threads(1)); pin it with `taskset -c 1` to compare.
Batches are drawn from one in-memory tensor by a random permutation, the fastest way to feed
PyTorch on the CPU (a DataLoader with ToTensor is slower), so the comparison favours the peer.
"""
import argparse
import gzip
import os
import struct
import time

import torch
from torch import nn
from torch.nn import functional as F


def read_idx(path):
    """An IDX file (raw or .gz) as a uint8 tensor of its dimensions."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path = path + ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank :]), dtype=torch.uint8).reshape(dims)


class VAE(nn.Module):
    """pytorch/examples vae/main.py, unchanged."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True): PyTorch's default is off")
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(a.flush_denormal)
    torch.manual_seed(a.seed)
    train = read_idx(os.path.join(a.dir, "train-images-idx3-ubyte")).reshape(-1, 784).float() / 255
    test = read_idx(os.path.join(a.dir, "t10k-images-idx3-ubyte")).reshape(-1, 784).float() / 255
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        for idx in torch.randperm(len(train)).split(a.batch_size):
            x = train[idx]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            opt.step()
        secs = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            total = 0.0
            for x in test.split(1000):
                recon, mu, logvar = model(x)
                total += loss_function(recon, x, mu, logvar).item()
        print(f"epoch {epoch:3} {len(train) / secs:7.0f} samples/s  test loss {total / len(test):.2f}", flush=True)


if __name__ == "__main__":
    main()
