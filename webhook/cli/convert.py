"""``import``: another injector's configuration in, our template ConfigMaps out (webhook.convert)."""

from __future__ import annotations

import argparse
from typing import Any

from webhook.cli import arguments, options

# The choices, written here so that --help does not load the converters; a test keeps them in step.
FORMATS = ("tumblr", "salesforce", "expedia")


def register(commands: Any) -> None:
    convert = options.command(
        commands,
        "import",
        "convert another injector's configuration into templates",
        "Print template ConfigMaps converted from another injector's configuration; on stderr, the "
        "annotation rewrite each workload needs and everything that could not be converted.",
    )
    convert.add_argument(
        "--from", dest="source_format", choices=FORMATS, required=True, help="the injector the files are for"
    )
    convert.add_argument(
        "--annotation-prefix",
        type=arguments.non_empty,
        metavar="PREFIX",
        help="the annotation prefix the old injector ran with (tumblr --annotation-namespace, Expedia "
        "--injectPrefix) (default: theirs: injector.tumblr.com, sidecar-injector.expedia.com)",
    )
    convert.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="configuration files or ConfigMap manifests, and workloads to rewrite (- for standard input)",
    )
    convert.set_defaults(run=import_configs)


def import_configs(args: argparse.Namespace) -> int:
    from webhook.convert.command import run_import

    return run_import(args.source_format, args.files, args.annotation_prefix)
