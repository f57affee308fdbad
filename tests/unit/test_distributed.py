"""Data-parallel training (srlib.distributed): two gloo processes on the CPU train what one process trains on the
same global batch, resume across world sizes, and one process is untouched.

Tolerance: the networks after 3 steps at lr 1e-3 agree within 5e-5 (absolute), 5 % of one Adam step. The only
difference between the runs is float32 summation order -- DDP averages two half-batch gradient means where one
process takes one mean over the whole batch (~1e-7 relative), and Adam's m / sqrt(v) passes a gradient's relative
error into its step: ~1e-7 of a step for most tensors, more for elements whose gradient is small against its
rounding. Measured (max over tensors), Intel AVX2: <= 8e-7 for every engine; AMD EPYC: Real-ESRGAN 5.5e-7, CUT 4.9e-7,
M3 6.7e-7, the hallucination's image D 2.8e-5 (R1's double backward). Ranks that skip the all-reduce (each
training on its own slice) are off by up to 8e-3, median 2e-3, on 67 of Real-ESRGAN's 70 tensors.
Except where the true gradient is 0: CUT's conv biases before an InstanceNorm get float rounding only, which Adam
turns into lr-sized steps of any sign (measured: up to 5e-3 after 3 steps); the norm removes them from the output,
so for CUT and M3 the test compares what the networks compute on a fresh input instead (measured: <= 1.3e-6), and
every other tensor.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from srlib import distributed, tracking
from srlib.models.esrgan import RRDBNet
from srlib.models.srgan import SRResNet

pytestmark = pytest.mark.notebooks  # multi-process: seconds each
WORKER = Path(__file__).resolve().parents[1] / "ddp_worker.py"
TOLERANCE = 5e-5


def launch(out: Path, *args: str, world: int = 1) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")
    }
    env |= {"OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(WORKER), str(out), *args]
    if world > 1:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={world}",
            *cmd[1:],
        ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return tracking.load_checkpoint(out / "final.pth")


def assert_same(a: dict, b: dict, names) -> None:
    # CUT's biases before an InstanceNorm (see tests/ddp_worker.py)
    skip = set(a.get("noise_driven", []))
    if skip:  # they change nothing: what the networks compute agrees
        torch.testing.assert_close(b["probe"], a["probe"], rtol=0, atol=TOLERANCE)
    for name in names:
        for key, t in a[name].items():
            if f"{name}.{key}" in skip:
                continue
            torch.testing.assert_close(b[name][key], t, rtol=0, atol=TOLERANCE, msg=f"{name}.{key}")
    assert not all(
        torch.equal(a[n][k], b[n][k]) for n in names for k in a[n]
    )  # two real runs, not one file


@pytest.mark.parametrize(("engine", "names"), [("realesrgan", ("g", "d", "g_ema")),
                                               ("hallucination", ("g", "d_img", "d_grad")),
                                               ("cut", ("g", "d", "f")), ("m3", ("g", "d", "f"))])  # fmt: skip
def test_two_gloo_processes_train_what_one_process_trains(tmp_path, engine, names):
    one = launch(tmp_path / "one", "--engine", engine)
    two = launch(tmp_path / "two", "--engine", engine, world=2)
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert_same(one, two, names)
    hist = [(tmp_path / d / "run/history.csv").read_text().splitlines()[0] for d in ("one", "two")]
    assert (
        hist[0] == hist[1]
    )  # rank 0 wrote one history with the same columns (the losses averaged over ranks)


def test_a_two_process_run_resumes_in_one_process(tmp_path):
    full = launch(tmp_path / "full", "--iters", "3")
    launch(tmp_path / "half", "--iters", "2", world=2)
    resumed = launch(
        tmp_path / "resumed", "--iters", "3", "--resume-from", str(tmp_path / "half/run")
    )
    assert_same(full, resumed, ("g", "d", "g_ema"))


def test_one_process_is_untouched_and_cpu_ranks_refuse_batchnorm(monkeypatch):
    net = RRDBNet(num_feat=4, num_block=1, num_grow_ch=2)
    x, y = torch.rand(4, 3, 8, 8), torch.rand(4, 1)
    assert distributed.wrap(net, "cpu") is net and distributed.shard(x, y) == (x, y)
    assert distributed.mean_logs({"l": 0.5}) == {"l": 0.5}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    lo, hi = distributed.shard(x, y)
    assert torch.equal(lo, x[2:]) and torch.equal(
        hi, y[2:]
    )  # rank 1's contiguous half of the global batch
    with pytest.raises(ValueError, match="divisible by the world size 2"):
        distributed.per_rank(5)
    with pytest.raises(ValueError, match="SRResNet has BatchNorm layers"):
        distributed.wrap(SRResNet(num_feat=4, num_block=1), "cpu")


def test_a_stage_that_does_not_train_refuses_torchrun(monkeypatch, tmp_path):
    from srlib import config, nb, paths

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(config.ParamsError, match="'zssr' does not train data-parallel"):
        nb.run_stage("zssr", profile="smoke")
    monkeypatch.setenv(paths.RANK_RESULTS_ENV, str(tmp_path / "rank1"))
    assert paths.results_dir() == tmp_path / "rank1"  # a rank > 0's results stay its own
    assert paths.rank_private(paths.metrics_file("smoke", "x")) and not paths.rank_private(
        paths.models_dir()
    )
