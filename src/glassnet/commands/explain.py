"""Write a self-contained HTML page that shows a trained run's network working on one input: every
layer's activations, weights and gradients with the real numbers, a click-through formula for each
unit, and a numerical gradient check beside each layer. The page works offline (open it from disk)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..explain import write_page
from ..explain.texts import LANGS
from ..optional import TORCH_INSTALL, require
from ..train.run import load_run
from .predict import load_input

HELP = "an offline HTML page of the network's forward and backward pass on one input"


def add_arguments(p):
    p.add_argument("run_dir", help="a run directory written by `glassnet train`")
    p.add_argument("input", help="a PNG/JPEG file (resized to the model input) or a .npy array of raw values (an image or a signal), as for predict")
    p.add_argument("--out", help="the page to write (default: the input's name with .html, in the current folder)")
    p.add_argument("--target", help="class (name or index) whose loss the backward pass shows first "
                                    "(default: the predicted class); the page can switch to the others")
    p.add_argument("--lang", choices=LANGS, default="en", help="language of the page's texts (the page can switch)")
    p.add_argument("--invert", action="store_true", help="invert an image file first (dark ink on light paper), as for predict")
    p.add_argument("--check-torch", action="store_true",
                   help="also show the largest difference from PyTorch autograd (needs PyTorch installed)")


def resolve_target(target, classes):
    """The index of ``target`` given as a class name or an index; InputError naming the choices."""
    if target is None:
        return None
    if target in classes:
        return classes.index(target)
    if target.isdigit() and int(target) < len(classes):
        return int(target)
    raise InputError(f"--target {target!r}: not a class of this run; choose one of {', '.join(classes)} "
                     f"(or an index 0..{len(classes) - 1})")


def run(args) -> int:
    if args.check_torch:  # before any work: a missing PyTorch is refused at once
        require("torch", "--check-torch", TORCH_INSTALL)
    model, _, meta = load_run(args.run_dir)
    x = load_input(args.input, meta, args.invert)
    classes = list(meta["classes"])
    out = Path(args.out) if args.out else Path(Path(args.input).stem + ".html")
    data = write_page(model, x, out, target=resolve_target(args.target, classes), classes=classes, lang=args.lang,
                      check_torch=args.check_torch, title=f"{meta.get('model', 'model')} ({meta.get('data', '')})",
                      input_label=Path(args.input).name)
    predicted = data["predicted"]
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): predicted {classes[predicted]}; "
          f"backward for target {classes[data['default_target']]}; open it in a browser (works offline)")
    return 0
