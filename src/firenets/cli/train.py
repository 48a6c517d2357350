"""``firenets train``: a built-in network or the user's own on random-ellipse phantoms."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .._io import locked
from .._progress import Console
from ..nets.adapter import INPUTS
from ..nets.training import KINDS
from ..nets.user import load_model
from ..reconstruction import TRAINING_MASKS, train, train_model
from .options import out_path, positive, positive_int, rate, say, unwritable


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a U-Net, a deep cascade or your own network on ellipse phantoms")
    p.add_argument("kind", nargs="?", choices=KINDS, default=None, help="a built-in network (or give --model)")
    p.add_argument("--model", default=None,
                   help="instead of a kind: PKG.MODULE:FACTORY returning your torch.nn.Module, trained as "
                        "firenets audit calls it (--input); the weights file then works with audit --weights")
    p.add_argument("--input", choices=INPUTS, default=None,
                   help="with --model: what the network is called with (as in firenets audit; default adjoint)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--mask", choices=TRAINING_MASKS, default=None,
                   help="sampling pattern (default gaussian; with --coils fastmri-random, fastMRI's column mask)")
    p.add_argument("--coils", type=positive_int, default=None,
                   help="--model only: train on complex phantoms (smooth random phases) sampled through SENSE with "
                        "this many birdcage coil maps, e.g. fastMRI's VarNet with --input fastmri")
    p.add_argument("--rate", type=rate, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="default: 14 (unet), 2 (cascade), 10 (--model)")
    p.add_argument("--n-train", type=int, default=1500, help="training phantoms (default 1500)")
    p.add_argument("--n-val", type=int, default=100, help="validation phantoms (default 100)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=positive, default=1e-3)
    p.add_argument("--features", type=int, default=None, help="default: 12 (unet), 16 (cascade)")
    p.add_argument("--out", type=out_path, default=None, help="weights file (default KIND-SIZE-MASK-RATE.pt)")
    p.add_argument("--resume", action="store_true", help="continue from OUT.state")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run, options={"spec": "--model", "input": "--input", "coils": "--coils"})


def run(args: argparse.Namespace) -> int:
    if (args.kind is None) == (args.model is None):
        say(args, "give a kind (unet, cascade) or --model PKG.MODULE:FACTORY, one of them")
        return 2
    if args.model is None and args.input is not None:
        say(args, "--input applies to --model")
        return 2
    if args.model is None and args.coils is not None:
        say(args, "--coils applies to --model; the built-in networks are single-coil")
        return 2
    args.mask = args.mask or ("fastmri-random" if args.coils is not None else "gaussian")
    if args.model is not None and args.features is not None:
        say(args, "--features applies to the built-in kinds; your factory sets its own")
        return 2
    name = args.kind or args.model.split(":")[-1]
    out = Path(args.out) if args.out else Path(f"{name}-{args.size}-{args.mask}-{round(args.rate * 100)}.pt")
    if out.is_dir():
        say(args, f"--out {out} is a directory; give the weights file's name")
        return 2
    problem = unwritable(out.parent if str(out.parent) else Path("."))
    if problem:
        say(args, f"--out {out}: the directory is {problem}")
        return 2
    with locked(out, warn=lambda text: say(args, text + " (--resume continues from its state file)")):
        if out.exists() and not args.resume and not args.force:
            say(args, f"{out} exists; use --force to overwrite it")
            return 2
        given = args.argv[args.argv.index("train") + 1:] if "train" in args.argv else []
        common = dict(size=args.size, mask=args.mask, rate=args.rate, seed=args.seed, n_train=args.n_train,
                      n_val=args.n_val, batch=args.batch, lr=args.lr, resume=args.resume,
                      progress=Console() if not args.no_progress else None,
                      command="firenets train " + " ".join(shlex.quote(a) for a in given))
        if args.model is not None:
            sys.path.insert(0, str(Path.cwd()))
            net = load_model(args.model)
            net, record = train_model(net, out, input=args.input or "adjoint", spec=args.model,
                                      epochs=args.epochs or 10, coils=args.coils, **common)
        else:
            net, record = train(args.kind, out, epochs=args.epochs, features=args.features, **common)
    print(f"trained {name} ({record['epochs']} epochs, best {record['best_epoch'] + 1}, "
          f"{record['seconds']:.0f} s): validation PSNR {record['val_psnr']:.2f} dB "
          f"(zero-filled {record['val_psnr_zero_filled']:.2f} dB)")
    print(f"wrote {out}")
    return 0
