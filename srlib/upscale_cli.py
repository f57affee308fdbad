"""``python -m srlib upscale IN... -o OUT --checkpoint CKPT``: upscale files and folders of any size.

Outputs are PNG files named after the inputs in the ``OUT`` folder (or ``OUT`` itself for a single input file with a
.png/.tif name), keeping grey / RGB, alpha and 8 / 16 bits (:func:`srlib.inference.upscale_array`). Never overwrites
an input (refused even with ``--overwrite``) nor an existing output (unless ``--overwrite``). A file that cannot be
read or upscaled is reported by name and the others are still done; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from srlib import inference
from srlib.data import IMAGE_SUFFIXES


def _collect(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files named directly, plus the image files directly inside named folders; errors for missing paths."""
    files, errors = [], []
    for name in inputs:
        p = Path(name)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                errors.append(f"{p}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


def _outputs(files: list[Path], out: Path, single_file: bool, overwrite: bool) -> list[tuple[Path, Path | None, str]]:
    """``(input, output or None, reason)``: refuses outputs equal to an input, existing ones, and duplicates."""
    inputs = {f.resolve() for f in files}
    to_file = single_file and out.suffix.lower() in (".png", ".tif", ".tiff")
    plan, taken = [], set()
    for f in files:
        dest = out if to_file else out / f"{f.stem}.png"
        key = dest.resolve()
        if key in inputs:
            plan.append((f, None, f"output {dest} is an input file; refusing to overwrite inputs"))
        elif key in taken:
            plan.append((f, None, f"output {dest} is already produced from another input of the same name"))
        elif dest.exists() and not overwrite:
            plan.append((f, None, f"output {dest} exists (pass --overwrite to replace it)"))
        else:
            taken.add(key)
            plan.append((f, dest, ""))
    return plan


def main(argv: list[str] | None = None) -> int:
    """``upscale IN... -o OUT --checkpoint CKPT``; exit 0 when every input was upscaled, 1 if any failed, 2 on usage."""
    ap = argparse.ArgumentParser(
        prog="python -m srlib upscale",
        description="Upscale images of any size with a trained srlib generator (tiled, bounded memory). "
        "Outputs are PNG files named after the inputs (8 or 16 bit, grey/RGB, alpha kept).",
    )
    ap.add_argument("inputs", nargs="+", metavar="IN", help="image files and/or folders of images")
    ap.add_argument("-o", "--output", required=True, metavar="OUT",
                    help="output folder (or a .png/.tif path when there is a single input file)")
    ap.add_argument("--checkpoint", required=True, metavar="CKPT", help="generator file written by srlib")
    ap.add_argument("--tile", type=int, default=256, help="tile side in input pixels (0 = whole image)")
    ap.add_argument("--overlap", type=int, default=32, help="tile overlap in input pixels (blend tiling)")
    ap.add_argument("--tiling", choices=inference.MODES, default="blend",
                    help="blend: overlap + feathered weights; faithful: the seed's non-overlapping tiles")
    ap.add_argument("--batch", type=int, default=0, help="tiles per forward pass (0 = automatic)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    ap.add_argument("--precision", choices=inference.PRECISIONS, default="auto",
                    help="auto: bf16/fp16 on CUDA where supported, fp32 on CPU")
    ap.add_argument("--postprocess", default="", metavar="STEPS",
                    help="comma-separated: match, lowpass (in that order as given), or seed (match,lowpass,match "
                    "as the seed does it); holds the whole output in memory")
    ap.add_argument("--radius", type=float, default=0.23, help="low-pass radius as a fraction of max(H, W)")
    ap.add_argument("--stretch-input", action="store_true", help="the seed's [30, 255] input stretch (a quirk)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs (never the inputs)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from srlib import evaluate, postprocess
    from srlib.train import pick_device, set_threads

    try:
        postprocess.parse_steps(args.postprocess)
        device = pick_device(args.device)
        set_threads(args.threads)
        model, state = evaluate.load_generator(args.checkpoint)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = model.to(device).eval()
    files, errors = _collect(args.inputs)
    out = Path(args.output)
    single = len(args.inputs) == 1 and len(files) == 1 and Path(args.inputs[0]).is_file()
    plan = _outputs(files, out, single, args.overwrite)
    errors += [f"{f}: {why}" for f, dest, why in plan if dest is None]
    todo = [(f, dest) for f, dest, _ in plan if dest is not None]
    bar = None
    if todo and not args.no_progress:
        bar = tqdm(total=len(todo), unit="img", desc="upscale", file=sys.stderr)
    done = 0
    for f, dest in todo:
        t0 = time.perf_counter()
        tiles_bar = None
        try:
            arr = inference.read_image(f)
            if bar is not None:  # an inner bar over the tiles: a single large image shows progress too
                ys, xs, _ = inference.layout(arr.shape[0], arr.shape[1], tile=args.tile, overlap=args.overlap,
                                             mode=args.tiling)
                tiles_bar = tqdm(total=len(ys) * len(xs), unit="tile", desc=f.name, leave=False, file=sys.stderr)
            res = inference.upscale_array(arr, model, tile=args.tile, overlap=args.overlap, mode=args.tiling,
                                batch_size=args.batch, device=device, precision=args.precision,
                                postprocess=args.postprocess, radius=args.radius, stretch_input=args.stretch_input,
                                on_tiles=None if tiles_bar is None else tiles_bar.update)
            shape = res.shape
            inference.write_image(res, dest)
            del res  # free the output before the next image is read
            done += 1
            msg = (f"ok {f} -> {dest} ({arr.shape[1]}x{arr.shape[0]} -> {shape[1]}x{shape[0]}, "
                   f"{time.perf_counter() - t0:.1f} s)")
            if bar is None:
                print(msg)
            else:
                bar.write(msg)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad file must not stop the others; it is reported by name
            errors.append(f"{f}: {exc}")
        if tiles_bar is not None:
            tiles_bar.close()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    print(f"{done} upscaled ({state['arch']}, x{inference.model_scale(model)}, {args.tiling} tiling), "
          f"{len(errors)} failed")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0
