"""Checkpoints are safe to load and training is safe to interrupt.

* a pickle that would run code is refused before its payload runs (loader, resume, the upscale CLI);
* a non-finite loss or non-finite weights stop training with the last good checkpoint intact;
* resume refuses a checkpoint that does not fit (architecture, a step past ``iters``, other settings);
* kill -9 at random moments, resumed each time, ends bit-identical to an uninterrupted run, with no temporary
  files left, and a truncated latest checkpoint falls back to the previous one.
"""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import models, tracking, training
from srlib.data import patches
from srlib.inference import cli as upscale_cli
from srlib.models import SRResNet
from srlib.srgan import train

pytestmark = pytest.mark.usefixtures("one_thread")


class _Payload:
    """Unpickling this creates the file ``marker``: what a malicious shared checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _evil_checkpoint(path, marker, layout="generator"):
    body = {"arch": "srresnet", "arch_kwargs": {}, "state_dict": _Payload(marker), "meta": {}}
    if layout == "training":
        body = {"step": 1, "g": _Payload(marker)}
    torch.save(body, path)
    return path


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = _evil_checkpoint(tmp_path / "evil.pth", marker)
    with pytest.raises(tracking.UnsafeCheckpoint, match="refusing to load .*evil.pth"):
        tracking.load_checkpoint(evil)
    with pytest.raises(tracking.UnsafeCheckpoint):
        models.load_generator(evil)
    assert not marker.exists()


def test_upscale_cli_refuses_malicious_checkpoint(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _evil_checkpoint(tmp_path / "evil.pth", marker)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "good.png")
    rc = upscale_cli.main(
        [
            str(tmp_path / "good.png"),
            "-o",
            str(tmp_path / "out"),
            "--checkpoint",
            str(evil),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "refusing to load" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out" / "good.png").exists()


def test_resume_refuses_malicious_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    _evil_checkpoint(tmp_path / "last.pth", marker, layout="training")
    with pytest.raises(tracking.UnsafeCheckpoint):
        _fit(tmp_path, iters=2)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------------------
# a tiny training run


def _images():
    g = torch.Generator().manual_seed(123)
    return [torch.rand(3, 40, 48, generator=g), torch.rand(3, 36, 36, generator=g)]


class _PoisonedPatches(patches.PairedPatches):
    """Batches with a NaN input from step ``nan_at`` on (a corrupt image, a bad degradation)."""

    nan_at = 10**9

    def batch(self, step, device=None):
        lq, gt = super().batch(step, device)
        if step >= self.nan_at:
            lq = lq.clone()
            lq[0, 0, 0, 0] = float("nan")
        return lq, gt


def _fit(
    run_dir, *, iters, num_feat=8, w_pix=1.0, lr_g=1e-3, nan_at=None, ckpt_interval=2, resume=True
):
    torch.manual_seed(0)
    g = SRResNet(num_feat=num_feat, num_block=1, scale=2)
    ds = _PoisonedPatches(_images(), scale=2, gt_size=16, batch_size=2)
    if nan_at is not None:
        ds.nan_at = nan_at
    train.fit(
        g=g,
        data=ds,
        iters=iters,
        run_dir=run_dir,
        lr_g=lr_g,
        w_pix=w_pix,
        log_interval=1,
        ckpt_interval=ckpt_interval,
        resume=resume,
    )
    return g


def _weights(path, key="g"):
    return tracking.load_checkpoint(path)[key]


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(
        training.NonFiniteTraining,
        match=r"step 5: non-finite loss l_g_pix=nan.*last\.pth \(step 4\)",
    ):
        _fit(tmp_path, iters=10, nan_at=5)
    saved = tracking.load_checkpoint(tmp_path / "last.pth")
    assert saved["step"] == 4 and all(torch.isfinite(t).all() for t in saved["g"].values())
    assert tracking.load_checkpoint(tmp_path / "last.1.pth")["step"] == 2  # K = 2 kept
    assert not list(tmp_path.glob(".*.tmp"))


def test_exploding_learning_rate_stops_training(tmp_path):
    with pytest.raises(training.NonFiniteTraining, match="non-finite"):
        _fit(tmp_path, iters=200, lr_g=1e12, ckpt_interval=1)
    saved = tracking.load_checkpoint(tmp_path / "last.pth")
    assert all(torch.isfinite(t).all() for t in saved["g"].values())


def test_resume_refuses_what_does_not_fit(tmp_path):
    _fit(tmp_path, iters=6)
    with pytest.raises(
        tracking.CheckpointError, match=r"last\.pth: its 'g' is another architecture .*shape"
    ):
        _fit(tmp_path, iters=8, num_feat=16)
    with pytest.raises(
        tracking.CheckpointError, match=r"last\.pth is at step 6, past this run's iters=4"
    ):
        _fit(tmp_path, iters=4)
    with pytest.raises(tracking.CheckpointError, match=r"w_pix=1\.0 in the file, 0\.5 in this run"):
        _fit(tmp_path, iters=8, w_pix=0.5)
    with pytest.raises(tracking.CheckpointError) as info:
        _fit(tmp_path, iters=8, lr_g=2e-3)
    assert len(str(info.value).splitlines()) == 1 and "lr_g_0" in str(info.value)
    assert tracking.load_checkpoint(tmp_path / "last.pth")["step"] == 6  # nothing was overwritten


def test_truncated_latest_checkpoint_falls_back_to_the_previous(tmp_path):
    full = _fit(tmp_path / "full", iters=6)
    _fit(tmp_path / "split", iters=4)
    last = tmp_path / "split" / "last.pth"
    last.write_bytes(last.read_bytes()[:200])
    with pytest.warns(
        UserWarning,
        match=r"cannot read checkpoint .*last\.pth.*falling back to .*last\.1\.pth \(step 2\)",
    ):
        resumed = _fit(tmp_path / "split", iters=6)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_every_checkpoint_unreadable_is_one_clear_error(tmp_path):
    _fit(tmp_path, iters=4)
    for p in tmp_path.glob("last*.pth"):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(
        tracking.CheckpointError, match="no readable checkpoint in .*Delete the folder"
    ):
        _fit(tmp_path, iters=6)


def test_stale_temp_files_are_removed_at_start(tmp_path):
    (tmp_path / ".last.pth.abc123.tmp").write_bytes(b"x" * 1000)
    (tmp_path / ".history.csv.def456.tmp").write_text("step\n")
    _fit(tmp_path, iters=2)
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------------------------------------------------------------
# kill -9


def _child(run_dir, iters):
    try:
        _fit(run_dir, iters=iters, ckpt_interval=1)
    finally:
        os._exit(0)


def test_a_rotation_cut_before_its_last_rename_leaves_two_separate_checkpoints(
    tmp_path, monkeypatch
):
    """A kill between ``last.pth -> last.1.pth`` and ``tmp -> last.pth``: both names hold the step-1 checkpoint, as
    two files, so damage to ``last.pth`` (here: truncated in place) still leaves ``last.1.pth`` to fall back on."""
    training.rotate_and_save(tmp_path, {"step": 1})
    real_replace = os.replace

    def cut_at_the_last_rename(src, dst):
        if Path(dst).name == "last.pth":
            raise KeyboardInterrupt  # stands in for the kill
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", cut_at_the_last_rename)
    with pytest.raises(KeyboardInterrupt):
        training.rotate_and_save(tmp_path, {"step": 2})
    monkeypatch.undo()
    last, older = tmp_path / "last.pth", tmp_path / "last.1.pth"
    assert not os.path.samefile(last, older)
    assert [tracking.load_checkpoint(p)["step"] for p in (last, older)] == [1, 1]
    last.write_bytes(last.read_bytes()[:10])
    assert tracking.load_checkpoint(older)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.1.pth",
        "last.pth",
    ]  # no temporary file left


def test_kill_9_at_random_moments_then_resume_equals_uninterrupted(tmp_path):
    iters = 300
    t0 = time.perf_counter()
    reference = _fit(tmp_path / "ref", iters=iters, ckpt_interval=1)
    duration = (
        time.perf_counter() - t0
    )  # kills at 5-15 % of a whole run each: all land before the end
    run_dir = tmp_path / "killed"
    ctx = multiprocessing.get_context(
        "fork"
    )  # no re-import of torch per child: kills land within ms of start
    rng = np.random.default_rng(2026)
    steps_at_kill = []
    last = run_dir / "last.pth"

    def checkpoint_step():
        return tracking.load_checkpoint(last)["step"] if last.is_file() else 0

    for _ in range(5):
        before = checkpoint_step()
        child = ctx.Process(target=_child, args=(run_dir, iters))
        child.start()
        # each kill lands after the child has resumed and written a checkpoint of its own (a loaded CPU can slow
        # its start far beyond the reference's pace), then at a random moment 5-15 % of a whole run later
        deadline = time.perf_counter() + 120
        while checkpoint_step() <= before and time.perf_counter() < deadline:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0.05, 0.15)) * duration)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL, "the run finished before the kill: lengthen it"
        assert last.is_file(), "a kill left the run without last.pth"  # rotation never removes it
        steps_at_kill.append(checkpoint_step())
    assert len(set(steps_at_kill)) >= 3 and steps_at_kill[-1] < iters, (
        steps_at_kill
    )  # 5 different moments
    print("checkpoint steps at the kills:", steps_at_kill)
    last.write_bytes(
        last.read_bytes()[: last.stat().st_size // 2]
    )  # and the latest checkpoint is truncated
    with pytest.warns(UserWarning, match="falling back"):
        resumed = _fit(run_dir, iters=iters, ckpt_interval=1)
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"resumed run differs after kills at steps {steps_at_kill}"
    assert not list(run_dir.glob(".*.tmp"))
    assert [r["step"] for r in tracking.History.from_csv(run_dir / "history.csv").rows] == list(
        range(1, iters + 1)
    )


@pytest.mark.parametrize("case", ["other_architecture", "not_a_checkpoint", "training_checkpoint"])
def test_upscale_cli_names_a_checkpoint_that_does_not_fit(tmp_path, capsys, case):
    ckpt = tmp_path / "g.pth"
    if case == "other_architecture":  # weights of a 16-feature net under arch_kwargs saying 8
        g = SRResNet(num_feat=16, num_block=1, scale=2)
        tracking.save_checkpoint(
            ckpt,
            {
                "arch": "srresnet",
                "arch_kwargs": {"num_feat": 8, "num_block": 1, "scale": 2},
                "state_dict": g.state_dict(),
                "meta": {},
            },
        )
    elif case == "not_a_checkpoint":
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(ckpt, format="PNG")
    else:
        _fit(tmp_path / "run", iters=2)
        ckpt = tmp_path / "run" / "last.pth"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "good.png")
    rc = upscale_cli.main(
        [
            str(tmp_path / "good.png"),
            "-o",
            str(tmp_path / "out"),
            "--checkpoint",
            str(ckpt),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(ckpt) in err[0], err
    assert not (tmp_path / "out" / "good.png").exists()


def test_the_same_state_is_saved_as_the_same_bytes(tmp_path):
    """Checkpoints go through random temporary names; torch.save would put that name inside the zip, so DVC saw a
    new file in every run of the same training."""
    state = {"generator": SRResNet(num_block=1, num_feat=8).state_dict(), "step": 3}
    a = tracking.save_checkpoint(tmp_path / "a" / "g.pth", state)
    b = tracking.save_checkpoint(tmp_path / "b" / "g.pth", state)
    (tmp_path / "c").mkdir()
    (tmp_path / "d").mkdir()
    c = training.rotate_and_save(tmp_path / "c", state)
    d = training.rotate_and_save(tmp_path / "d", state)
    assert a.read_bytes() == b.read_bytes()
    assert c.read_bytes() == d.read_bytes()
    assert torch.equal(
        tracking.load_checkpoint(c)["generator"]["conv_first.weight"],
        state["generator"]["conv_first.weight"],
    )
