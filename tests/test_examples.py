"""Every example runs to completion at a reduced size and says which data it used;
the MNIST helper's stand-in is a learnable task and real IDX files are picked up."""
import gzip
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

import _data  # noqa: E402

SMALL = ["--limit", "640", "--test-limit", "200"]


def _run(script, tmp_path, *args):
    # HYBRIDNET_HOME is left alone: it also holds the kernel cache, which keeps the
    # hybridized runs from recompiling. An empty --data-root makes the data source
    # deterministic (the stand-in) even on a machine that has real MNIST.
    env = dict(os.environ, HYBRIDNET_EXAMPLE_QUICK="1", TMPDIR=str(tmp_path),
               HYBRIDNET_PROGRESS="0")
    args = ["--data-root", str(tmp_path / "no-mnist-here"), *args]
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=env,
                          capture_output=True, text=True, timeout=240, cwd=str(tmp_path))
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _check_common(out):
    assert out.startswith("data: synthetic stand-in for MNIST"), out[:300]
    assert "real MNIST was not found" in out
    assert "640 training and 200 test images" in out


def _losses(out, tag):
    return [float(v) for v in re.findall(rf"\[{tag}\] epoch \d+, avg loss ([\d.]+), time", out)]


def _check_eager_vs_hybridized(out):
    eager, hybrid = _losses(out, "eager"), _losses(out, "hybridized")
    assert len(eager) == len(hybrid) == 1
    # same initial weights and batch order: hybridize() must not change the numbers
    assert hybrid[0] == pytest.approx(eager[0], abs=2e-3)
    assert re.search(r"\[eager\] test accuracy 0\.\d{4}", out)
    assert re.search(r"\[hybridized\] test accuracy 0\.\d{4}", out)
    assert re.search(r"eager/hybridized ratio \d+\.\d\d", out)


def test_mnist_mlp_example_and_chart(tmp_path):
    out = _run("mnist_mlp.py", tmp_path, *SMALL, "--out-dir", str(tmp_path / "out"))
    _check_common(out)
    _check_eager_vs_hybridized(out)
    png = tmp_path / "out" / "mnist_mlp_epoch_times.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "chart: skipped, matplotlib is not installed" in out
    else:
        assert f"chart: wrote {png}" in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lenet_example(tmp_path):
    out = _run("lenet.py", tmp_path, "--limit", "256", "--test-limit", "200", "--no-chart")
    assert out.startswith("data: synthetic stand-in for MNIST")
    assert "256 training and 200 test images" in out
    _check_eager_vs_hybridized(out)
    assert "chart: skipped (--no-chart)" in out


def test_custom_function_example(tmp_path):
    out = _run("custom_function.py", tmp_path, *SMALL)
    assert "dy/dx = [0, 1, 1, 1, 1, 0]" in out
    assert "sign(x) = [-1, -1, 0, 1, 1, 1]" in out
    _check_common(out[out.index("data:"):])
    assert re.search(r"\[eager\] test accuracy 0\.\d{4}", out)
    assert re.search(r"\[hybridized children\] test accuracy 0\.\d{4}", out)


def test_fit_example(tmp_path):
    out = _run("fit.py", tmp_path, *SMALL)
    _check_common(out)
    assert "Train for 1 epochs." in out
    assert re.search(r"\[Epoch 0\] Finished in [\d.]+s, training accuracy: [\d.]+, "
                     r"training loss: [\d.]+", out)
    assert "validation accuracy:" in out
    assert "mlp-best.params" in out and "mlp-epoch0batch5.params" in out
    assert re.search(r"best checkpoint reloaded into a fresh net: test accuracy 0\.\d{4}", out)


def test_stand_in_is_deterministic_and_shaped_like_mnist():
    x, y = _data.synthetic_digits(300, seed=5)
    x2, y2 = _data.synthetic_digits(300, seed=5)
    assert x.shape == (300, 28, 28, 1) and x.dtype == np.uint8
    assert y.shape == (300,) and y.dtype == np.int32 and set(np.unique(y)) == set(range(10))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert 20 < x.mean() < 120 and x.max() == 255
    f = _data.as_float(x, flat=False)
    assert f.shape == (300, 1, 28, 28) and f.dtype == np.float32
    assert _data.as_float(x, flat=True).shape == (300, 784)


def test_stand_in_is_learnable_but_not_trivial():
    x, y = _data.synthetic_digits(3000, seed=0)
    xt, yt = _data.synthetic_digits(1000, seed=1)
    f, ft = _data.as_float(x, flat=True), _data.as_float(xt, flat=True)
    centroids = np.stack([f[y == k].mean(0) for k in range(10)])
    dist = ((ft[:, None, :] - centroids[None]) ** 2).sum(-1)
    acc = (dist.argmin(1) == yt).mean()
    # nearest class mean: far above chance (0.1), far from perfect (slant, shift, scale)
    assert 0.3 < acc < 0.95


def _write_idx(path, arr):
    dims = arr.shape
    code = 0x08 if arr.dtype == np.uint8 else None
    header = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def test_real_mnist_files_are_used_when_present(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
                   rng.integers(0, 10, n).astype(np.uint8))
    d = _data.load_mnist(limit=30, root=str(tmp_path))
    assert d.real and d.source.startswith("real MNIST from") and str(tmp_path) in d.source
    assert d.train_images.shape == (30, 28, 28, 1) and d.test_images.shape == (20, 28, 28, 1)
    assert d.train_labels.dtype == np.int32
    missing = _data.load_mnist(limit=10, test_limit=5, root=str(tmp_path / "nothing"))
    assert not missing.real and "synthetic stand-in" in missing.source
    assert str(tmp_path / "nothing") in missing.source
    assert missing.train_images.shape == (10, 28, 28, 1)


def test_readme_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## A 20-line example"):]
    start = section.index("```python\n") + len("```python\n")
    code = section[start:section.index("\n```", start)]
    assert "net.hybridize()" in code and "trainer.step" in code
    np.random.seed(0)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"epoch \d: loss ([\d.]+)", out)]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert float(re.search(r"accuracy ([\d.]+)", out).group(1)) > 0.7
