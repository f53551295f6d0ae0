"""``labctl site build`` and ``labctl site serve``: the results site from a bucket or a ``site/data`` folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.names import RESULTS_BUCKET
from labctl.command import EXIT_OK, Subparsers
from labctl.results import s3_endpoint
from labctl.site.build import build_site
from labctl.site.runs import BucketSummaries, FolderSummaries, SummarySource
from labctl.site.serve import serve_site

DEFAULT_OUT = Path("results-site")


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    site = subparsers.add_parser(
        "site",
        help="the results site: every run, series and comparison as static pages",
        description="Build (or build and serve) a static website from every summary.json in the results store, "
        "or from a folder in the results PRs' site/data format. It opens from disk with no network.",
    )
    commands = site.add_subparsers(dest="site_command", metavar="COMMAND", required=True)
    build = commands.add_parser("build", help="write the site into a folder")
    _add_source_options(build)
    build.set_defaults(handler=site_build)
    serve = commands.add_parser("serve", help="build, serve over HTTP and rebuild when a summary lands")
    _add_source_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--interval", type=float, default=5.0, help="seconds between checks for new summaries")
    serve.set_defaults(handler=site_serve)


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"site folder (default ./{DEFAULT_OUT})")
    parser.add_argument("--from-dir", type=Path, metavar="DIR", help="read a site/data folder instead of S3")
    parser.add_argument("--s3-endpoint", metavar="URL", help="S3 endpoint (default $S3_ENDPOINT)")
    parser.add_argument("--bucket", help=f"results bucket (default $S3_BUCKET or {RESULTS_BUCKET})")


def summary_source(args: argparse.Namespace) -> SummarySource:
    if args.from_dir is not None:
        return FolderSummaries(args.from_dir)
    bucket = args.bucket or args.settings.results_bucket
    return BucketSummaries(s3_endpoint(args.settings, args.s3_endpoint), bucket)


def site_build(args: argparse.Namespace) -> int:
    source = summary_source(args)
    built = build_site(source, args.out)
    print(
        f"{built.runs} runs, {built.series} series from {source.describe()} in {built.seconds:.1f} s: "
        f"{built.index.resolve()}"
    )
    return EXIT_OK


def site_serve(args: argparse.Namespace) -> int:
    serve_site(summary_source(args), args.out, args.host, args.port, args.interval)
    return EXIT_OK
