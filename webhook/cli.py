"""Placeholder until the CLI lands (next commit)."""


def main() -> int:
    return 0
