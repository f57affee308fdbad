"""One prepared GPU run: ``python -m srlib gpu-run OUT_DIR [--dry-run] [--photos DIR]`` (``make gpu-run OUT=DIR``).

**What the real run does** (one GPU, <= 8 min in all, ``--budget-s 480``), step by step with its time budget:

=============== ====== ===================================================================================
step            budget what
=============== ====== ===================================================================================
preflight         5 s  the Python modules the run needs, CUDA, the photos folders (fails before any GPU work)
matmul            5 s  8192³ bf16 product: the achievable dense rate beside the datasheet peak
rrdbnet          25 s  RRDBNet x4plus inference, 8 x 256² per batch: fp32 (TF32) / bf16 / bf16 + channels_last
pixel_metrics    15 s  batched PSNR / SSIM on 32 pairs of 512² on the GPU vs scikit-image (CPU), same pairs
fid_features     15 s  Inception pool3 features of 512 images: img/s
train_steps      45 s  SRResNet-MSE and SRGAN steps/s of the ``gpu`` profile (fp32 / bf16 / bf16+NHWC / fp16)
family_steps     30 s  steps/s of the other families at the ``gpu`` profile's sizes (fp32 / bf16 / fp16): modified
                       SRGAN, Real-ESRGAN, CUT (M1's 256², M2's 64²), the unpaired M3; their stages are not run
layout_checks     5 s  the PyTorch CPU bugs of NHWC with InstanceNorm, asked of the GPU (CUT / M3 ``channels_last``)
training        270 s  the ``gpu`` profile's data_prepare, srgan_train (~3 min of steps) and srgan_evaluate
compile        rest    RRDBNet under ``torch.compile`` in a child process whose timeout is what is left
pack              5 s  the outputs below
=============== ====== ===================================================================================

``train_steps`` predicts the training time from the measured step times; when the profile's iterations would take
more than 1.25 x ``TRAIN_STEPS_BUDGET_S`` both stages are scaled down (``training.iters`` in the summary says so).
A failing step is recorded and the run goes on; ``summary.json`` is rewritten after every step, so a run stopped
at its limit still brings back what it measured.

**Outputs** (flat, at most 8 files, every one < 16 MiB, all < 60 MiB: what the device tool brings back):

* ``summary.json`` -- every figure: GPU name, date, git commit, torch/CUDA versions, the chip's peak and its
  source, each step's status, seconds and budget, the benchmarks, the training headline (SRResNet's PSNR-Y gain
  over bicubic on bench-classic, with its paired CI) and the iterations run, the size of each file;
* ``summary.md`` -- the same as tables to read;
* ``results.tar.gz`` -- ``results/gpu/`` (rendered notebooks 00 / 10 / 11, metrics JSON, plot CSVs, figures,
  tables) and ``data/gpu/manifest.json``, with repo-relative names: ``tar -xzf results.tar.gz`` in the repository
  puts them where the other profiles' results are;
* ``srresnet.pth``, ``srgan.pth`` -- the two generators (``srlib.models.load_generator`` reads them), cast to
  fp16 when fp32 would exceed 5 MB (the paper's 16 x 64 SRResNet is 6.2 MB in fp32; ``meta.stored_dtype`` says);
* ``gpu-run.log`` -- the run's log.

**The device machine.** ``srlib`` needs no install there (the command runs in the repository root and gives the
notebooks' kernels ``PYTHONPATH``), but its image (Python 3.12, torch 2.11) lacks papermill, nbclient, nbformat,
fastjsonschema, jsonschema (+ jsonschema-specifications, referencing, rpds-py), jupyter_client, jupyter_core,
traitlets, platformdirs, pyzmq, tornado, ipykernel, comm, nest-asyncio2, matplotlib-inline, IPython (+
ipython-pygments-lexers, prompt-toolkit, wcwidth, stack-data, asttokens, executing, pure-eval, pexpect,
ptyprocess), tenacity, entrypoints, ipywidgets and pytorch-fid: they travel as cp312 wheels in ``.whl/``
(``/work/.library/device/README.md``; debugpy, jedi, widgetsnbextension are optional at run time). The photos
travel as ``--pack-photos scratch/gpu-photos`` writes them (9.2 MiB: the training photos shrunk to the profile's
1024 px, JPEG q90; bench-classic byte for byte). The tracked tree is ~46 MiB of the 64 MiB that travel, so the
wheels get ~8 MiB. The command there: ``python3 -m pip install -q --no-index --no-deps --target /tmp/site
.whl/*.whl && PYTHONPATH=/tmp/site SRLIB_GIT_COMMIT=<sha> PYTHONUNBUFFERED=1 python3 -m srlib gpu-run $OUT
--photos scratch/gpu-photos``, carrying ``.whl`` and ``scratch/gpu-photos``, with ``timeout_s`` 600.
``--dry-run`` runs every step at toy size on the CPU (tiny models, a few steps, the embedded photos,
``torch.compile`` with the ``aot_eager`` backend) into the same outputs (< 2 min on this project's 2-core machine:
1 min 59 s measured with one core busy with another job; its toy training steps run on one thread).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from srlib import config, gpu_bench, gpu_report, paths, runtime, tracking
from srlib.night2day.config import Night2DayM1Config, Night2DayM2Config, Night2DayM3Config
from srlib.srgan.config import SRGANTrainConfig
from srlib.srgan_modified.config import SRGANModifiedTrainConfig

log = logging.getLogger("srlib.gpu_run")

PROFILE = "gpu"
STAGES = ("data_prepare", "srgan_train", "srgan_evaluate")
BUDGET_S = 480  # the whole real run
# both SRGAN stages' steps together (params.yaml profiles.gpu.srgan_train)
TRAIN_STEPS_BUDGET_S = 180
STEPS = (
    "preflight matmul rrdbnet pixel_metrics fid_features train_steps family_steps layout_checks training compile"
    " pack"
).split()
BUDGETS = dict(zip(STEPS, (5, 5, 25, 15, 15, 45, 30, 5, 270, None, 5)))  # compile: what is left
# the Python modules the run imports (the device image lacks those after tqdm: they travel as wheels)
MODULES = """torch torchvision numpy scipy pandas matplotlib seaborn skimage cv2 PIL yaml tqdm papermill nbformat
nbclient jupyter_client ipykernel zmq ipywidgets pytorch_fid""".split()
_SIZE_KEYS = (
    "matmul size batch repeats pairs pair_size fid_images fid_size fid_batch train_steps backend"
    " family_steps"
).split()
SIZES = {  # the benchmarks' sizes: the real run, and the dry run's toy ones (the same code paths)
    "real": dict(zip(_SIZE_KEYS, (8192, 256, 8, 10, 32, 512, 512, 256, 64, 60, "inductor", 15))),
    "dry": dict(zip(_SIZE_KEYS, (256, 32, 2, 3, 4, 64, 8, 64, 4, 6, "aot_eager", 2))),
}
DRY_TRAIN = yaml.safe_load(  # srgan_train overrides of the dry run: a tiny SRResNet, a few CPU steps
    "{device: cpu, num_feat: 8, num_block: 1, gt_size: 32, batch_size: 2, train_max_side: 256, pretrain_iters: 8,"
    " gan_iters: 2, lr_decay_at: 1, log_interval: 4, val_interval: 4, ckpt_interval: 8, val_crop: 64}"
)
# (precision, channels_last) of the training-step benchmark
VARIANTS = (("fp32", False), ("bf16", False), ("bf16", True), ("fp16", False))
# the other families' stages whose networks family_steps times, and the dry run's toy sizes of them
FAMILY_CONFIGS = {
    "srgan_modified_train": SRGANModifiedTrainConfig,
    "night2day_m1": Night2DayM1Config,
    "night2day_m2": Night2DayM2Config,
    "night2day_m3": Night2DayM3Config,
}
_DRY_N2D = dict(sr_num_feat=8, sr_num_block=1, sr_num_grow_ch=8, sr_d_num_feat=8, sr_batch_size=2)
_DRY_N2D |= dict(sr_gt_size=16, cut_num_feat=8, cut_num_block=1, cut_d_num_feat=8, cut_netf_nc=16)
_DRY_N2D |= dict(cut_num_patches=16, cut_load_size=36, cut_crop_size=32)
DRY_FAMILIES = {
    "srgan_modified_train": dict(num_feat=8, num_block=1, num_up_feat=16, d_num_feat=8, d_fc_dim=16)
    | dict(gt_size=32, train_max_side=256),
    "night2day_m1": _DRY_N2D,
    "night2day_m2": _DRY_N2D,
    "night2day_m3": dict(num_feat=8, num_block=1, num_grow_ch=8, unpaired_d_num_feat=8, netf_nc=16)
    | dict(num_patches=16, nce_layers=[0, 1]),
}


def plan_iters(cfg: SRGANTrainConfig, t_pre: float, t_gan: float, budget_s: float) -> dict:
    """The iterations to run: the profile's, or both scaled down when they would take over 1.25 x ``budget_s``."""
    predicted = cfg.pretrain_iters * t_pre + cfg.gan_iters * t_gan
    planned = {"pretrain_iters": cfg.pretrain_iters, "gan_iters": cfg.gan_iters}
    plan = {"planned": planned, "predicted_s": predicted, "budget_s": budget_s, "overrides": {}}
    if predicted <= 1.25 * budget_s:
        return plan
    f, step = budget_s / predicted, cfg.log_interval
    pre, gan = (max(step, int(n * f) // step * step) for n in (cfg.pretrain_iters, cfg.gan_iters))
    decay = max(1, cfg.lr_decay_at * gan // cfg.gan_iters)
    return plan | {
        "overrides": {"pretrain_iters": pre, "gan_iters": gan, "lr_decay_at": decay},
        "factor": f,
    }


def train_config(overrides: dict) -> SRGANTrainConfig:
    """The gpu profile's ``srgan_train`` config (of this repository's params.yaml) with ``overrides``."""
    values, sources = config.stage_config_params(SRGANTrainConfig, profile=PROFILE)
    return config.build(SRGANTrainConfig, values | overrides, sources)


def photo_folders(photos: str) -> dict:
    """data_prepare's parameters for ``photos`` (``embedded``, or a folder holding photos-train/ and
    bench-classic/), with absolute paths: the stages run in another project root."""
    if photos == "embedded":
        names = {"train_name": "embedded-train", "bench_name": "embedded-bench"}
        return {"train_dir": "embedded", "bench_dir": "embedded"} | names
    base = paths.resolve(photos).resolve()
    return {"train_dir": str(base / "photos-train"), "bench_dir": str(base / "bench-classic")}


def training_photos(photos: str, max_side: int, n: int = 8) -> list[torch.Tensor]:
    """The first ``n`` training photos, as the stage loads them (for the step-time benchmark)."""
    from srlib.data import images, splits

    folder = photo_folders(photos)["train_dir"]
    if folder == "embedded":
        files = [p for _pkg, p in splits.embedded_sources("train")]
    else:
        files = images.list_images(folder)
    return images.load_images(files[:n], max_side=max_side)


class Run:
    """One run: where it writes, its summary (rewritten after every step), and its clock."""

    def __init__(self, out: Path, *, dry_run: bool, photos: str, work: Path, budget_s: float):
        self.out, self.dry_run, self.photos, self.budget_s = out, dry_run, photos, budget_s
        self.root = work / "project"  # the stages' SRLIB_ROOT: data, checkpoints, results
        self.t0 = time.perf_counter()
        self.sizes = SIZES["dry" if dry_run else "real"]
        self.device = torch.device("cpu" if dry_run else "cuda")
        self.train_overrides = dict(DRY_TRAIN) if dry_run else {}
        self.budgets = dict(BUDGETS)
        self.summary: dict = {"run": {}, "steps": {}, "benchmarks": {}, "training": {}, "files": {}}

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def step(self, name: str, fn, *, into: str | None = None) -> bool:
        """Run one step (its result under ``summary[into][name]``); record its status and seconds; True if ok."""
        log.info(
            "[gpu-run] %s (budget %s s; %.0f s of the run left)",
            name,
            self.budgets[name],
            self.left(),
        )
        t = time.perf_counter()
        try:
            result = fn()
            if into:
                self.summary[into][name] = result
            status = "ok"
        except Exception as exc:  # one failed measurement must not cost the rest of the GPU time
            log.exception("[gpu-run] %s failed", name)
            status = f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        seconds = time.perf_counter() - t
        self.summary["steps"][name] = {
            "status": status,
            "seconds": seconds,
            "budget_s": self.budgets[name],
        }
        self.summary["run"]["elapsed_s"] = time.perf_counter() - self.t0
        gpu_report.write_summary(self.out, self.summary)
        return status == "ok"


def preflight(run: Run) -> None:
    missing = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(
            f"missing Python modules {missing}: carry them as wheels (see srlib/gpu_run.py)"
        )
    if not run.dry_run and not torch.cuda.is_available():
        raise RuntimeError("the real run needs a CUDA GPU (--dry-run runs on the CPU)")
    for key, folder in photo_folders(run.photos).items():
        if key.endswith("_dir") and folder != "embedded" and not Path(folder).is_dir():
            raise FileNotFoundError(f"{key}: {folder} is not a folder (pass --photos DIR)")


def describe(run: Run) -> dict:
    cuda = run.device.type == "cuda" and torch.cuda.is_available()
    return {
        "kind": "dry run (CPU, toy sizes: the numbers check the plumbing only)"
        if run.dry_run
        else "real",
        "device": torch.cuda.get_device_name(run.device) if cuda else "cpu",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": runtime.git_commit(paths.root()),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "python": sys.version.split()[0],
        "photos": run.photos,
        "budget_s": run.budget_s,
        "peak_bf16_dense": gpu_bench.peak_bf16(run.device),
    }


@contextlib.contextmanager
def toy_threads(run: Run):
    """The dry run's toy training steps on one CPU thread, restored after: as in the smoke profile, one thread is
    as fast for tiny networks and immune to OpenMP barrier stalls on a shared machine (~10x measured here)."""
    threads = torch.get_num_threads()
    if run.dry_run:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_steps(run: Run) -> dict:
    """Step times of the gpu profile's networks per variant, and the iteration plan they give."""
    cfg = train_config(run.train_overrides)
    photos = training_photos(run.photos, cfg.train_max_side)
    with toy_threads(run):
        res = gpu_bench.bench_train_steps(
            run.device,
            cfg=cfg,
            photos=photos,
            tiny=run.dry_run,
            variants=VARIANTS,
            steps=run.sizes["train_steps"],
        )
    mine = res[cfg.precision]  # the profile's variant (contiguous memory)
    t_pre, t_gan = mine["srresnet"]["ms"] / 1e3, mine["srgan"]["ms"] / 1e3
    plan = plan_iters(cfg, t_pre, t_gan, 10 if run.dry_run else TRAIN_STEPS_BUDGET_S)
    run.summary["training"]["iters"] = plan
    run.train_overrides |= plan["overrides"]
    return res


def family_configs(dry_run: bool) -> dict:
    """The gpu profile's configs of the other families' stages (:data:`FAMILY_CONFIGS`; the dry run: toy sizes)."""
    out = {}
    for stage, cls in FAMILY_CONFIGS.items():
        values, sources = config.stage_config_params(cls, profile=PROFILE)
        out[stage] = config.build(cls, values | (DRY_FAMILIES[stage] if dry_run else {}), sources)
    return out


def family_steps(run: Run) -> dict:
    """Steps/s of the other families' networks at the gpu profile's sizes, and the stage time each predicts."""
    cfgs = family_configs(run.dry_run)
    photos = training_photos(run.photos, cfgs["srgan_modified_train"].train_max_side)
    toy = dict(n_images=4, hr_side=32) if run.dry_run else {}  # the dry run: 32² HR images, 8² LR
    with toy_threads(run):
        fits = gpu_bench.family_fits(cfgs, photos, device=run.device, **toy)
        return gpu_bench.bench_family_steps(run.device, fits=fits, steps=run.sizes["family_steps"])


def benchmarks(run: Run) -> None:
    s, dev, tiny = run.sizes, run.device, run.dry_run
    rr = dict(tiny=tiny, size=s["size"], batch=s["batch"], repeats=s["repeats"])
    steps = {
        "matmul": lambda: gpu_bench.bench_matmul(dev, n=s["matmul"], repeats=10),
        "rrdbnet": lambda: gpu_bench.bench_rrdbnet(dev, **rr),
        "pixel_metrics": lambda: gpu_bench.bench_pixel_metrics(
            dev, pairs=s["pairs"], size=s["pair_size"], repeats=s["repeats"]
        ),
        "fid_features": lambda: gpu_bench.bench_fid_features(
            dev, images=s["fid_images"], size=s["fid_size"], batch=s["fid_batch"]
        ),
        "train_steps": lambda: train_steps(run),
        "family_steps": lambda: family_steps(run),
        "layout_checks": lambda: gpu_bench.layout_checks(dev, backend=s["backend"]),
    }
    for name, fn in steps.items():
        run.step(name, fn, into="benchmarks")


def stage_overrides(run: Run, stage: str) -> dict:
    if stage == "data_prepare":
        return photo_folders(run.photos)
    if stage == "srgan_train":
        return run.train_overrides
    return {"device": "cpu"} if run.dry_run else {}


def training(run: Run) -> None:
    """The gpu profile's SRGAN stages in the scratch project root (``SRLIB_ROOT``), then the headline numbers."""
    from srlib import nb

    if run.device.type == "cuda":
        torch.cuda.empty_cache()  # the benchmarks' cached blocks: the kernels are other processes
    run.root.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(paths.root() / name, run.root / name)
    for name in ("notebooks", "references"):
        shutil.copytree(paths.root() / name, run.root / name, dirs_exist_ok=True)
    pythonpath = os.pathsep.join(p for p in (str(paths.root()), os.environ.get("PYTHONPATH")) if p)
    seconds = run.summary["training"].setdefault("stage_seconds", {})
    env = {
        "SRLIB_ROOT": str(run.root),
        "PYTHONPATH": pythonpath,
    }  # kernels import srlib from the repo
    with runtime.environment(env):  # restored after
        for stage in STAGES:
            t = time.perf_counter()
            nb.run_stage(stage, profile=PROFILE, overrides=stage_overrides(run, stage))
            seconds[stage] = time.perf_counter() - t
            log.info("[gpu-run] %s done in %.0f s", stage, seconds[stage])
    cfg = train_config(run.train_overrides)
    iters = run.summary["training"].setdefault("iters", {})
    iters["run"] = {"pretrain_iters": cfg.pretrain_iters, "gan_iters": cfg.gan_iters}
    metrics = run.root / "results" / PROFILE / "metrics"
    run.summary["training"] |= gpu_report.headline(
        tracking.read_metrics(metrics / "srgan_evaluate.json"),
        tracking.read_metrics(metrics / "srgan_train.json"),
    )


def run_all(out: Path, *, dry_run: bool, photos: str, work: Path, budget_s: float) -> dict:
    """Every step of the module docstring into ``out``; returns the summary (also ``out/summary.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out, dry_run=dry_run, photos=photos, work=work, budget_s=budget_s)
    run.summary["run"] = describe(run)
    if not run.step("preflight", lambda: preflight(run)):
        return run.summary
    benchmarks(run)
    run.step("training", lambda: training(run))
    run.budgets["compile"] = 120 if dry_run else max(0, int(run.left() - 15))
    spec = dict(tiny=dry_run, backend=run.sizes["backend"])
    spec |= {k: run.sizes[k] for k in ("size", "batch", "repeats")}
    timeout = run.budgets["compile"]
    run.step(
        "compile",
        lambda: gpu_bench.bench_compile(run.device, timeout_s=timeout, **spec),
        into="benchmarks",
    )
    run.step("pack", lambda: gpu_report.pack(run.summary, out, run.root, PROFILE))
    gpu_report.finish(run.summary, out, elapsed_s=time.perf_counter() - run.t0)
    return run.summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m srlib gpu-run", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "out", nargs="?", help="output folder (summary.json, summary.md, results.tar.gz, ...)"
    )
    ap.add_argument(
        "--dry-run", action="store_true", help="every step at toy size on the CPU (< 2 min)"
    )
    ap.add_argument(
        "--photos",
        help="folder holding photos-train/ and bench-classic/, or 'embedded' (default: ../shared/data "
        "beside the repository; the dry run: embedded)",
    )
    ap.add_argument(
        "--work", help="scratch folder for the stages' data and checkpoints (default: a temp one)"
    )
    ap.add_argument(
        "--budget-s", type=float, default=BUDGET_S, help="the run's seconds (compile gets the rest)"
    )
    ap.add_argument(
        "--pack-photos", metavar="DIR", help="write a carry copy of --photos into DIR and exit"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    photos = args.photos or ("embedded" if args.dry_run else "../shared/data")
    if args.pack_photos:
        folders = photo_folders(photos)
        max_side = train_config({}).train_max_side
        print(gpu_report.pack_photos(folders, Path(args.pack_photos), max_side=max_side))
        return 0
    if not args.out:
        ap.error("OUT_DIR is required")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "gpu-run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    scratch = tempfile.TemporaryDirectory(prefix="srlib-gpu-run-") if not args.work else None
    try:
        work = Path(args.work) if args.work else Path(scratch.name)
        summary = run_all(
            out, dry_run=args.dry_run, photos=photos, work=work, budget_s=args.budget_s
        )
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        if scratch is not None:
            scratch.cleanup()
    failed = [k for k, v in summary["steps"].items() if v["status"] != "ok"]
    print(f"{out}: {len(summary['steps'])} steps, failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0
