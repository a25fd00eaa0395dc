"""`python -m reelfarm_engines NAME [--config C] [--weights PATH] [--device D] [--dtype T] [--as ALIAS]`: serve one
engine over the contract on stdin/stdout (ENGINES.md)."""

import argparse
import importlib
import sys

from . import ENGINES, protocol


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="reelfarm_engines", description=__doc__)
    p.add_argument("engine", choices=sorted(ENGINES))
    p.add_argument("--config", default=None, help="configuration name (e.g. tiny); default: the engine's")
    p.add_argument("--weights", default=None, help="local weights file or directory (never a hub id)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when there is one)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: the engine's)")
    p.add_argument("--as", dest="alias", default=None,
                   help="name to answer to (e.g. ltx2-draft for a second configuration); the worker's NAME must match")
    args = p.parse_args(argv)
    module, _, factory = ENGINES[args.engine].partition(":")
    engine = getattr(importlib.import_module(module), factory)()
    if args.alias:
        engine.name = args.alias
    options = {"config": args.config, "weights": args.weights, "device": args.device, "dtype": args.dtype}
    return protocol.serve(engine, options)


if __name__ == "__main__":
    sys.exit(main())
