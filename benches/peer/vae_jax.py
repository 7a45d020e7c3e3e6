"""The JAX peer: the same model as vae_torch.py (PyTorch's examples/vae: 784-400-20, ReLU,
Bernoulli decoder, Adam), one jit-compiled training step, on the same MNIST-layout IDX files.

    python3 benches/peer/vae_jax.py DIR [--epochs 2] [--batch-size 128] [--lr 1e-3]

Prints one line per epoch in vae_torch.py's format: training samples/s (training only) and
the test loss per item in nats (BCE summed over pixels + KL). XLA runs on one thread (its
Eigen pool is switched off below, before jax is imported); pin it with `taskset -c 1` to
compare. Compilation happens before the clock starts (both batch shapes, on a throw-away copy
of the weights), and the training set lives on the device as one array that the compiled step
indexes, so the comparison favours the peer. The loss is written on logits (the stable form)
rather than on sigmoid outputs: the same function, without PyTorch's log clamp.
"""
import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import gzip  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

SIZES = [("fc1", 784, 400), ("fc21", 400, 20), ("fc22", 400, 20), ("fc3", 20, 400), ("fc4", 400, 784)]


def read_idx(path):
    """An IDX file (raw or .gz) as a uint8 array of its dimensions."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path = path + ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data[4 + 4 * rank :], dtype=np.uint8).reshape(dims)


def init(key):
    """nn.Linear's default: weights and biases uniform in ±1/sqrt(fan_in)."""
    params = {}
    for name, n_in, n_out in SIZES:
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(n_in)
        params[name] = (
            jax.random.uniform(kw, (n_in, n_out), jnp.float32, -bound, bound),
            jax.random.uniform(kb, (n_out,), jnp.float32, -bound, bound),
        )
    return params


def dense(p, x):
    return x @ p[0] + p[1]


def loss_fn(params, x, eps):
    """BCE summed over pixels and batch + KL, as the PyTorch example's loss_function."""
    h1 = jax.nn.relu(dense(params["fc1"], x))
    mu, logvar = dense(params["fc21"], h1), dense(params["fc22"], h1)
    z = mu + eps * jnp.exp(0.5 * logvar)
    logits = dense(params["fc4"], jax.nn.relu(dense(params["fc3"], z)))
    bce = jnp.sum(jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits))))
    kld = -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar))
    return bce + kld


def make_step(lr, b1=0.9, b2=0.999, eps_adam=1e-8):
    """One jit-compiled Adam step (torch.optim.Adam's update) on the batch `train[idx]`."""

    @jax.jit
    def step(params, m, v, t, train, idx, key):
        key, sub = jax.random.split(key)
        x = train[idx]
        eps = jax.random.normal(sub, (x.shape[0], 20), jnp.float32)
        grads = jax.grad(loss_fn)(params, x, eps)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        c1, c2 = 1 - b1**t, 1 - b2**t

        def update(p, m, v):
            return p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps_adam)

        params = jax.tree_util.tree_map(update, params, m, v)
        return params, m, v, t, key

    return step


@jax.jit
def test_loss(params, x, key):
    eps = jax.random.normal(key, (x.shape[0], 20), jnp.float32)
    return loss_fn(params, x, eps)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    train_np = read_idx(os.path.join(a.dir, "train-images-idx3-ubyte")).reshape(-1, 784)
    test_np = read_idx(os.path.join(a.dir, "t10k-images-idx3-ubyte")).reshape(-1, 784)
    train = jnp.asarray(train_np, jnp.float32) / 255
    test = jnp.asarray(test_np, jnp.float32) / 255
    n = train.shape[0]
    key = jax.random.PRNGKey(a.seed)
    key, k_init = jax.random.split(key)
    params = init(k_init)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    m, v, t = zeros, zeros, jnp.float32(0)
    step = make_step(a.lr)
    rng = np.random.default_rng(a.seed)
    # Compile both batch shapes (full and the remainder) on a throw-away copy.
    for size in {a.batch_size, n % a.batch_size or a.batch_size}:
        out = step(params, m, v, t, train, jnp.arange(size), key)
        jax.block_until_ready(out)
    for epoch in range(1, a.epochs + 1):
        perm = rng.permutation(n)
        batches = [jnp.asarray(perm[i : i + a.batch_size]) for i in range(0, n, a.batch_size)]
        start = time.perf_counter()
        for idx in batches:
            params, m, v, t, key = step(params, m, v, t, train, idx, key)
        jax.block_until_ready(params)
        secs = time.perf_counter() - start
        total = 0.0
        for i in range(0, test.shape[0], 1000):
            key, sub = jax.random.split(key)
            total += float(test_loss(params, test[i : i + 1000], sub))
        print(f"epoch {epoch:3} {n / secs:7.0f} samples/s  test loss {total / test.shape[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
