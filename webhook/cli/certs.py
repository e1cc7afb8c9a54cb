"""``certs generate``: a CA and a serving certificate for the injector's Service, written to a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from webhook.cli import arguments, options
from webhook.tls.issuing import SERVING_DAYS


def register(commands: Any) -> None:
    certs = options.command_group(commands, "certs", "certificate tooling")
    generate = options.command(certs, "generate", "write a CA and a serving certificate for the Service")
    generate.add_argument(
        "--service",
        type=arguments.dns_label,
        required=True,
        metavar="NAME",
        help="name of the injector's Service",
    )
    generate.add_argument(
        "--namespace", type=arguments.dns_label, required=True, metavar="NS", help="namespace of that Service"
    )
    generate.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for ca.crt, tls.crt and tls.key (created if missing; the key is private: keep it "
        "out of version control)",
    )
    generate.add_argument(
        "--days",
        type=arguments.integer(1, 3650),
        default=SERVING_DAYS,
        metavar="N",
        help="days the serving certificate is valid, 1 to 3650 (the CA: ten times as long)",
    )
    generate.add_argument(
        "--extra-name",
        action="append",
        type=arguments.dns_name_or_ip,
        default=[],
        metavar="NAME",
        help="an additional DNS name or IP address for the certificate (repeatable)",
    )
    generate.set_defaults(run=generate_certificates)


def generate_certificates(args: argparse.Namespace) -> int:
    import ipaddress
    from datetime import UTC, datetime

    from webhook.tls.files import write_bundle
    from webhook.tls.issuing import issue_bundle

    ips, dns = [], []
    for name in args.extra_name:
        try:
            ips.append(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(name)
    bundle = issue_bundle(
        args.service,
        args.namespace,
        now=datetime.now(UTC),
        days=args.days,
        extra_dns_names=dns,
        ip_addresses=ips,
    )
    try:
        write_bundle(bundle, args.out)
    except OSError as exc:
        print(f"error: cannot write the certificates into {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out / 'ca.crt'}, {args.out / 'tls.crt'}, {args.out / 'tls.key'}", file=sys.stderr)
    print("caBundle for the MutatingWebhookConfiguration:", file=sys.stderr)
    print(bundle.ca_bundle_base64())
    return 0
