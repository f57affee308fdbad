"""Training loop: determinism under a seed, resume == uninterrupted, losses fall, checkpoints."""

import pytest
import torch

from srlib import training
from srlib.data import patches
from srlib.models import Discriminator, SRResNet
from srlib.srgan import train

torch.set_num_threads(1)


def tiny_data(seed=0):
    g = torch.Generator().manual_seed(123)
    images = [torch.rand(3, 40, 48, generator=g), torch.rand(3, 36, 36, generator=g)]
    return patches.PairedPatches(images, scale=2, gt_size=16, batch_size=2, seed=seed)


def tiny_models(seed=0):
    torch.manual_seed(seed)
    return SRResNet(num_feat=8, num_block=1, scale=2), Discriminator(num_feat=4, fc_dim=8)


def run(tmp, iters, *, adversarial, resume=True, ckpt_interval=2):
    g, d = tiny_models()
    kw = dict(w_pix=1.0, w_adv=1e-3, d=d, lr_d=1e-4) if adversarial else dict(w_pix=1.0)
    hist = train.fit(
        g=g,
        data=tiny_data(),
        iters=iters,
        run_dir=tmp,
        lr_g=1e-3,
        log_interval=1,
        ckpt_interval=ckpt_interval,
        resume=resume,
        **kw,
    )
    return g, d, hist


@pytest.mark.parametrize("adversarial", [False, True])
def test_resume_equals_uninterrupted(tmp_path, adversarial):
    g_full, d_full, h_full = run(tmp_path / "full", 4, adversarial=adversarial)
    run(
        tmp_path / "split", 2, adversarial=adversarial
    )  # "interrupted" after step 2 (checkpoint written)
    g_res, d_res, h_res = run(
        tmp_path / "split", 4, adversarial=adversarial
    )  # new process state, resumes
    for a, b in zip(g_full.state_dict().values(), g_res.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    if adversarial:
        for a, b in zip(d_full.state_dict().values(), d_res.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [r["step"] for r in h_res.rows] == [1, 2, 3, 4]
    assert [r["l_g_pix"] for r in h_res.rows] == pytest.approx(
        [r["l_g_pix"] for r in h_full.rows], abs=0
    )


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    g1, _, _ = run(tmp_path / "a", 3, adversarial=False)
    g2, _, _ = run(tmp_path / "b", 3, adversarial=False)
    torch.testing.assert_close(g1.conv_first.weight, g2.conv_first.weight, rtol=0, atol=0)
    lq_a, _ = tiny_data(seed=0).batch(1)
    lq_b, _ = tiny_data(seed=1).batch(1)
    assert not torch.equal(lq_a, lq_b)


def test_batches_are_pure_functions_of_step():
    ds = tiny_data()
    a, b = ds.batch(7), ds.batch(7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (2, 3, 8, 8) and a[1].shape == (2, 3, 16, 16)


def test_mse_training_reduces_the_loss(tmp_path):
    torch.manual_seed(0)
    g = SRResNet(num_feat=8, num_block=1, scale=2)
    ds = patches.PairedPatches(
        [torch.rand(3, 16, 16)], scale=2, gt_size=16, batch_size=1, use_augment=False
    )
    hist = train.fit(
        g=g, data=ds, iters=60, run_dir=tmp_path, lr_g=3e-3, log_interval=10, ckpt_interval=60
    )
    losses = [r["l_g_pix"] for r in hist.rows]
    assert losses[-1] < 0.5 * losses[0]


def test_checkpoint_and_history_written(tmp_path):
    run(tmp_path, 4, adversarial=True)
    state = torch.load(tmp_path / "last.pth", weights_only=True)
    assert state["step"] == 4 and {"g", "d", "opt_g", "opt_d"} <= set(state)
    assert (tmp_path / "history.csv").read_text().splitlines()[0].startswith("step,")


def test_step_decay_is_a_function_of_step():
    f = training.step_decay(1e-4, 10)
    assert f(0) == 1e-4 and f(9) == 1e-4 and f(10) == pytest.approx(1e-5)


def test_adversarial_without_discriminator_is_an_error(tmp_path):
    g, _ = tiny_models()
    with pytest.raises(ValueError, match="needs d and lr_d"):
        train.fit(g=g, data=tiny_data(), iters=1, run_dir=tmp_path, lr_g=1e-3, w_adv=1e-3)
