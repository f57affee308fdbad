"""Real-ESRGAN training pieces: perceptual loss, EMA, steps that overfit a tiny set, fit with pool + resume."""

import pytest
import torch
import torch.nn.functional as F

from srlib import losses
from srlib.data.degradations_realesrgan import RealESRGANDegradationConfig
from srlib.data.realesrgan_kernels import usm_sharp
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.realesrgan import train as train_realesrgan
from srlib.realesrgan.pairs import RealESRGANPairs

torch.set_num_threads(1)


def photo(seed, size=48):
    x = torch.rand(3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]


def tiny_data(batch_size=2, queue_size=4):
    cfg = RealESRGANDegradationConfig(gt_size=32, crop_pad_size=48, queue_size=queue_size)
    return RealESRGANPairs([photo(0), photo(1, 56)], cfg=cfg, batch_size=batch_size, seed=0)


def tiny_nets(seed=0):
    torch.manual_seed(seed)
    return RRDBNet(num_feat=16, num_block=1, num_grow_ch=8), UNetDiscriminatorSN(num_feat=8)


@pytest.fixture(scope="module")
def vgg():
    return train_realesrgan.make_vgg("random")


def test_perceptual_l1_is_the_weighted_sum_over_pre_relu_maps(vgg):
    assert vgg.indices == [
        2,
        7,
        16,
        25,
        34,
    ]  # conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 before ReLU
    assert train_realesrgan.REALESRGAN_LAYER_WEIGHTS == (0.1, 0.1, 1.0, 1.0, 1.0)
    sr, gt = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    got = losses.perceptual_l1(sr, gt, vgg, layer_weights=train_realesrgan.REALESRGAN_LAYER_WEIGHTS)
    f_sr, f_gt = vgg(sr), vgg(gt)
    assert (f_sr[0] < 0).any()  # pre-ReLU maps keep negative values
    want = sum(w * (a - b).abs().mean() for w, a, b in zip((0.1, 0.1, 1, 1, 1), f_sr, f_gt))
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    with pytest.raises(ValueError, match="layer weights"):
        losses.perceptual_l1(sr, gt, vgg, layer_weights=(1.0,))


def test_ema_update():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    train_realesrgan.ema_update(a, b, 0.9)
    torch.testing.assert_close(a.weight, 0.9 * before + 0.1 * b.weight.detach())


def test_realesrnet_overfits_a_fixed_batch():
    g, _ = tiny_nets()
    lq, gt = tiny_data().batch(1)
    gt_usm = usm_sharp(gt)
    opt = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.9, 0.99))
    hist = [
        train_realesrgan.realesrnet_g_step(g=g, opt_g=opt, lq=lq, gt_usm=gt_usm)[1]["l_g_pix"]
        for _ in range(30)
    ]
    assert sum(hist[-3:]) / 3 < 0.4 * hist[0]


def test_realesrgan_steps_overfit_a_fixed_batch(vgg):
    g, d = tiny_nets()
    lq, gt = tiny_data().batch(1)
    gt_usm = usm_sharp(gt)
    opt_g = torch.optim.Adam(g.parameters(), lr=3e-3, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.99))
    hist = []
    for _ in range(15):
        sr, logs = train_realesrgan.realesrgan_g_step(
            g=g, d=d, opt_g=opt_g, lq=lq, gt_usm=gt_usm, vgg=vgg
        )
        logs |= train_realesrgan.realesrgan_d_step(d=d, opt_d=opt_d, sr=sr, gt=gt)
        hist.append(logs)
    assert {"l_g_pix", "l_g_percep", "l_g_gan", "l_d_real", "l_d_fake", "out_d_real"} <= set(
        hist[0]
    )
    assert sum(h["l_g_pix"] for h in hist[-3:]) / 3 < 0.5 * hist[0]["l_g_pix"]
    assert sum(h["l_g_percep"] for h in hist[-3:]) / 3 < 0.7 * hist[0]["l_g_percep"]
    assert hist[0]["l_g_gan"] == pytest.approx(
        0.1 * 0.693, rel=0.1
    )  # 0.1 x BCE at D(sr) ~ 0 logits


def run_fit(run_dir, iters, vgg, *, adversarial):
    g, d = tiny_nets(1)
    kw = dict(d=d, vgg=vgg) if adversarial else {}
    hist, g_ema = train_realesrgan.fit_realesrgan(
        g=g,
        data=tiny_data(),
        iters=iters,
        run_dir=run_dir,
        lr_g=1e-3,
        log_interval=1,
        ckpt_interval=2,
        **kw,
    )
    return g, g_ema, d, hist


@pytest.mark.parametrize("adversarial", [False, True])
def test_fit_with_pool_resumes_exactly(tmp_path, vgg, adversarial):
    g_full, ema_full, d_full, h_full = run_fit(tmp_path / "full", 4, vgg, adversarial=adversarial)
    run_fit(tmp_path / "split", 2, vgg, adversarial=adversarial)
    g_res, ema_res, d_res, h_res = run_fit(tmp_path / "split", 4, vgg, adversarial=adversarial)
    pairs = [
        *zip(g_full.state_dict().values(), g_res.state_dict().values()),
        *zip(ema_full.state_dict().values(), ema_res.state_dict().values()),
    ]
    if adversarial:
        pairs += list(zip(d_full.state_dict().values(), d_res.state_dict().values()))
    for a, b in pairs:
        assert torch.equal(a, b)
    assert [r["l_g_pix"] for r in h_res.rows] == [r["l_g_pix"] for r in h_full.rows]
    state = torch.load(tmp_path / "full" / "last.pth", weights_only=True)
    assert (
        state["pool"]["ptr"] == 4 and state["pool"]["lq"].dtype == torch.uint8
    )  # steps 3-4 drew from the pool
    released = torch.load(tmp_path / "full" / "generator_ema.pth", weights_only=True)
    assert set(released) == {"params_ema", "params"}


def test_fine_tuning_starts_from_the_published_file(torch_home):
    torch.manual_seed(4)
    published = RRDBNet().state_dict()
    torch_home.put("realesrgan_x4plus", state_dict={"params_ema": published})
    g = RRDBNet()
    status = train_realesrgan.load_pretrained_generator(g, "auto")
    assert status.source == "file"
    assert torch.equal(g.conv_first.weight, published["conv_first.weight"])
    status = train_realesrgan.load_pretrained_generator(RRDBNet(num_feat=8, num_block=1), "random")
    assert status.source == "random-init"


def test_gan_training_needs_vgg(tmp_path):
    g, d = tiny_nets()
    with pytest.raises(ValueError, match="VGG"):
        train_realesrgan.fit_realesrgan(g=g, d=d, data=tiny_data(), iters=1, run_dir=tmp_path)
