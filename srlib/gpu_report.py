"""What the one prepared GPU run (:mod:`srlib.gpu_run`) writes: ``summary.json`` / ``summary.md``, the training
headline, ``results.tar.gz`` and the small generator files; and the carry copy of the photos that travels to the
device machine inside the working tree (``python -m srlib gpu-run --pack-photos DIR``)."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from srlib import tracking

CHECKPOINT_LIMIT = 5_000_000  # bytes per generator file brought back
FILE_LIMIT, TOTAL_LIMIT, MAX_FILES = (
    16 * 2**20,
    60 * 2**20,
    8,
)  # what the device tool brings back (and ours)


def write_summary(out: Path, summary: dict) -> None:
    """``summary.json``, and ``summary.md`` from it (a rendering error costs the tables, never the run)."""
    tracking.write_json(out / "summary.json", summary)
    try:
        text = markdown(summary)
    except Exception as exc:  # noqa: BLE001
        text = f"# GPU run\n\nsummary.md could not be rendered ({type(exc).__name__}: {exc}); see summary.json\n"
    (out / "summary.md").write_text(text)


def headline(evaluate: dict, train: dict) -> dict:
    """SRResNet's PSNR-Y gain over bicubic on the benchmark with its paired CI (from ``srgan_evaluate.json``), and
    the training's own numbers (``srgan_train.json``)."""
    models = evaluate["metrics"]["models"]
    paired = evaluate["metrics"]["paired"]["srresnet_vs_bicubic_psnr_y"]
    return {
        "headline": {
            "srresnet_gain_over_bicubic_db": models["srresnet"]["gain_db"],
            "ci95_db": [paired["ci_low"], paired["ci_high"]],
            "p_wilcoxon": paired["p_wilcoxon"],
            "benchmark": evaluate["data"]["name"],
            "images": models["srresnet"]["n"],
        },
        "psnr_y": {m: v["psnr_y"] for m, v in models.items()},
        "ssim_y": {m: v["ssim_y"] for m, v in models.items()},
        "srgan_gain_over_bicubic_db": models["srgan"]["gain_db"],
        "train_minutes": train["metrics"]["train_minutes"],
        "validation_gain_db": {
            k: train["metrics"][k]["val_gain_db"] for k in ("srresnet", "srgan")
        },
        "labels": train["labels"],
    }


def small_generator(src: Path, dest: Path) -> dict:
    """Copy a generator file, cast to fp16 when fp32 exceeds :data:`CHECKPOINT_LIMIT` (``load_generator`` casts
    it back into the fp32 network); says which."""
    if src.stat().st_size <= CHECKPOINT_LIMIT:
        shutil.copyfile(src, dest)
        return {"stored_dtype": "float32"}
    state = tracking.load_checkpoint(src)
    sd = state["state_dict"]
    state["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    state["meta"] = dict(state.get("meta") or {}) | {"stored_dtype": "float16 (cast to travel)"}
    tracking.save_checkpoint(dest, state)
    return {"stored_dtype": "float16"}


def pack(summary: dict, out: Path, root: Path, profile: str) -> None:
    """``results.tar.gz`` (``results/<profile>/`` and the data manifest, repo-relative) and the generators."""
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        for part in (Path("results") / profile, Path("data") / profile / "manifest.json"):
            if (root / part).exists():
                tar.add(root / part, arcname=part.as_posix())
    run_dir = root / "models" / profile / "srgan_train"
    for name in ("srresnet.pth", "srgan.pth"):
        if (run_dir / name).is_file():
            ckpts = summary["training"].setdefault("checkpoints", {})
            ckpts[name] = small_generator(run_dir / name, out / name)


def finish(summary: dict, out: Path, *, elapsed_s: float) -> None:
    """The files' sizes and whether they fit what comes back; the final summary."""
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    total = sum(sizes.values())  # summary.json / .md grow by a line once rewritten: negligible
    fits = len(sizes) <= MAX_FILES and total <= TOTAL_LIMIT and max(sizes.values()) <= FILE_LIMIT
    summary["files"] = sizes
    summary["run"] |= {"elapsed_s": elapsed_s, "outputs_within_limits": fits}
    write_summary(out, summary)


def _f(v, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _share(v) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(c) for c in r) + " |" for r in rows),
        "",
    ]


def markdown(s: dict) -> str:
    """``summary.md``: the run, its steps, every benchmark and the training headline as tables."""
    run, b, tr = s.get("run", {}), s.get("benchmarks", {}), s.get("training", {})
    peak = run.get("peak_bf16_dense") or {}
    out = [
        f"# One prepared GPU run — {run.get('device', '?')}, {run.get('date', '?')}",
        "",
        f"- kind: {run.get('kind')}; git commit: {run.get('git_commit')}",
        f"- torch {run.get('torch')}, CUDA {run.get('cuda')}, Python {run.get('python')}; photos: {run.get('photos')}",
        f"- budget {_f(run.get('budget_s'))} s, elapsed {_f(run.get('elapsed_s'))} s",
        f"- bf16 dense peak: {_f(peak.get('tflops'))} TFLOP/s ({peak.get('source')})",
        "",
        "## Steps",
        "",
    ]
    out += _table(
        ["step", "status", "seconds", "budget s"],
        [
            [k, v["status"], _f(v["seconds"]), _f(v["budget_s"])]
            for k, v in s.get("steps", {}).items()
        ],
    )
    out += ["## Benchmarks", ""]
    if "matmul" in b:
        m = b["matmul"]
        out += [
            f"- matmul {m['n']}³ {m['dtype']}: {_f(m['tflops'])} TFLOP/s ({_share(m['share_of_bf16_peak'])} of peak)",
            "",
        ]
    rr, comp = b.get("rrdbnet"), b.get("compile", {})
    if rr:
        a = rr["arch"]
        out += [
            f"RRDBNet x{a['scale']}, {a['num_block']} RRDBs x {a['num_feat']} features (growth "
            f"{a['num_grow_ch']}; {rr['weights']} weights), batch {rr['batch']} at {rr['size']}², "
            f"{_f(rr['flops_per_image'] / 1e12)} TFLOP per image (counted from the model); compile: "
            f"{comp.get('status', 'not run')} ({comp.get('backend', '')})",
            "",
        ]
        rows = [
            [
                k,
                _f(rr[k]["ms"]),
                _f(rr[k]["per_s"]),
                _f(rr[k]["tflops"]),
                _share(rr[k]["share_of_bf16_peak"]),
                _f(rr[k]["max_abs_diff_vs_fp32"]),
                "—",
            ]
            for k in ("fp32", "bf16", "bf16_channels_last")
        ]
        rows += [
            [
                f"compiled {k}",
                _f(comp[k]["ms"]),
                _f(comp[k]["per_s"]),
                _f(comp[k]["tflops"]),
                _share(comp[k]["share_of_bf16_peak"]),
                "—",
                _f(comp[k]["compile_s"]),
            ]
            for k in ("fp32", "bf16")
            if k in comp
        ]
        out += _table(
            [
                "variant",
                "ms / batch",
                "img/s",
                "TFLOP/s",
                "of bf16 peak",
                "max abs Δ vs fp32",
                "compile s",
            ],
            rows,
        )
    if "pixel_metrics" in b:
        p = b["pixel_metrics"]
        out += [
            f"PSNR / SSIM, {p['pairs']} pairs of {p['size']}² RGB: ours on {p['ours_device']}, scikit-image on the CPU",
            "",
        ]
        out += _table(
            ["metric", "ours pairs/s", "skimage pairs/s", "speed-up", "max abs Δ"],
            [
                [
                    k,
                    _f(p[k]["ours_pairs_per_s"]),
                    _f(p[k]["skimage_pairs_per_s"]),
                    _f(p[k]["speedup"]),
                    _f(p[k]["max_abs_diff"]),
                ]
                for k in ("psnr", "ssim")
            ],
        )
    if "fid_features" in b:
        f = b["fid_features"]
        out += [
            f"- FID Inception features ({f['weights']} weights, dims {f['dims']}, {f['images']} images of "
            f"{f['input_size']}², batch {f['batch']}): {_f(f['img_per_s'])} img/s",
            "",
        ]
    ts = b.get("train_steps")
    if ts:
        out += [
            f"SRGAN family training steps, batch {ts['batch']} of {ts['gt_size']}² crops "
            f"(FLOPs per step: SRResNet {_f(ts['flops_per_step']['srresnet'] / 1e12)} T, SRGAN "
            f"{_f(ts['flops_per_step']['srgan'] / 1e12)} T)",
            "",
        ]
        rows = [
            [
                k,
                _f(1e3 / v["srresnet"]["ms"]),
                _share(v["srresnet"]["share_of_bf16_peak"]),
                _f(1e3 / v["srgan"]["ms"]),
                _share(v["srgan"]["share_of_bf16_peak"]),
            ]
            for k, v in ts.items()
            if isinstance(v, dict) and isinstance(v.get("srresnet"), dict)
        ]
        out += _table(["variant", "SRResNet steps/s", "of peak", "SRGAN steps/s", "of peak"], rows)
    fs = b.get("family_steps")
    if fs:
        out += [
            "Other families' training steps at the gpu profile's sizes (their stages are not run here; "
            "predicted = the stage's iterations at the measured step time of its precision)",
            "",
        ]
        variants = ("fp32", "bf16", "fp16")
        rows = []
        for k, v in fs.items():
            if not (isinstance(v, dict) and "flops_per_step" in v):
                continue
            speeds = [_f(v[p]["per_s"]) if isinstance(v.get(p), dict) else "—" for p in variants]
            bf16_share = _share(v.get("bf16", {}).get("share_of_bf16_peak"))
            predicted = _f(v.get("predicted_s")) + f" s ({v['profile_precision']})"
            size = f"{v['batch']} x {v['gt_size']}²"
            rows.append([k, size, _f(v["flops_per_step"] / 1e12), *speeds, bf16_share])
            rows[-1] += [v.get("stage", "—"), v["profile_iters"], predicted]
        header = ["network", "batch", "TFLOP/step", *(f"{p} steps/s" for p in variants)]
        out += _table(header + ["bf16 of peak", "stage", "its iters", "predicted"], rows)
    lc = b.get("layout_checks")
    if isinstance(lc, dict) and "channels_last_ok_for_instance_norm" in lc:
        ok = lc["channels_last_ok_for_instance_norm"]
        out += [
            f"- NHWC InstanceNorm at batch 1: input-gradient error {_f(lc['instance_norm_nhwc_batch1_grad_error'])} "
            f"({'right: CUT / M3 may use channels_last here' if ok else 'WRONG: keep channels_last off for CUT / M3'}"
            f"); compiled NHWC pad backward ({lc['backend']}): {lc['compiled_nhwc_pad_backward']}",
            "",
        ]
    out += ["## Training (the gpu profile)", ""]
    h = tr.get("headline")
    if h:
        out += [
            f"**SRResNet gain over bicubic on {h['benchmark']} ({h['images']} images): "
            f"{h['srresnet_gain_over_bicubic_db']:+.3f} dB** (95 % CI {h['ci95_db'][0]:+.3f} .. "
            f"{h['ci95_db'][1]:+.3f}, Wilcoxon p = {_f(h['p_wilcoxon'])}); SRGAN "
            f"{tr['srgan_gain_over_bicubic_db']:+.3f} dB; {_f(tr['train_minutes'])} min of training steps",
            "",
        ]
        out += _table(
            ["model", "PSNR-Y", "SSIM-Y"],
            [[m, _f(v, 5), _f(tr["ssim_y"][m], 4)] for m, v in tr["psnr_y"].items()],
        )
        out += [f"- label: {x}" for x in tr.get("labels", [])] + [""]
    it = tr.get("iters")
    if it:
        out += [
            f"- iterations: planned {it['planned']}, run {it.get('run', '—')}, predicted {_f(it['predicted_s'])} s "
            f"of steps{'; SCALED DOWN by ' + _f(it['factor']) if it.get('overrides') else ''}",
            "",
        ]
    if tr.get("stage_seconds"):
        out += [
            "- stage seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in tr["stage_seconds"].items()),
            "",
        ]
    if tr.get("checkpoints"):
        out += [
            "- checkpoints: "
            + ", ".join(f"{k} ({v['stored_dtype']})" for k, v in tr["checkpoints"].items()),
            "",
        ]
    if s.get("files"):
        out += ["## Files", ""] + _table(
            ["file", "bytes"], [[k, f"{v:,}"] for k, v in s["files"].items()]
        )
    return "\n".join(out)


def pack_photos(folders: dict, dest: Path, *, max_side: int, quality: int = 90) -> str:
    """A copy of ``photos`` small enough to travel: training photos shrunk to ``max_side`` (MATLAB bicubic, as
    ``srgan_train.train_max_side`` would) and saved as JPEG ``quality``; the benchmark copied byte for byte (its
    numbers stay comparable with the photos profile's). Text files (attribution) travel with both. Returns a line."""
    from PIL import Image

    from srlib.data import images

    src = folders
    if src["train_dir"] == "embedded":
        raise ValueError(
            "--pack-photos needs a folder of photos (the embedded ones are installed already)"
        )
    dest = Path(dest)
    shutil.copytree(src["bench_dir"], dest / "bench-classic", dirs_exist_ok=True)
    train = dest / "photos-train"
    train.mkdir(parents=True, exist_ok=True)
    for f in Path(src["train_dir"]).iterdir():
        if f.suffix.lower() in (".md", ".txt"):
            shutil.copyfile(f, train / f.name)
    for f in images.list_images(src["train_dir"]):
        (img,) = images.load_images([f], max_side=max_side)
        arr = (img.clamp(0, 1).numpy().transpose(1, 2, 0) * 255.0).round().astype("uint8")
        Image.fromarray(arr).save(train / f"{f.stem}.jpg", quality=quality)
    (train / "PACKED.md").write_text(
        f"Shrunk to a {max_side}-px long side (MATLAB bicubic) and re-encoded as JPEG q{quality} by "
        f"`python -m srlib gpu-run --pack-photos`, from {src['train_dir']}, to travel to the device machine.\n"
    )
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return f"{dest}: {size / 2**20:.1f} MiB (photos-train shrunk to {max_side} px, bench-classic as is)"
