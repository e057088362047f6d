"""argparse types of the bench's command lines: a bad value is a usage error that
names the option, before anything starts."""

import argparse
import math


def number(kind, at_least: float, above: bool = False):
    """A ``kind`` (int or float), finite, at least ``at_least`` (above it, with
    ``above``)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'not {"a whole number" if kind is int else "a number"}: {text!r}') from None
        if not math.isfinite(value) or value < at_least or (above and value == at_least):
            raise argparse.ArgumentTypeError(
                f'{text} is not {"above" if above else "at least"} {at_least:g}')
        return value
    return parse


def numbers(kind, at_least: float):
    """Comma-separated ``number``s, one at least."""
    one = number(kind, at_least)

    def parse(text: str) -> list:
        found = [one(item.strip()) for item in text.split(',') if item.strip()]
        if not found:
            raise argparse.ArgumentTypeError('no number given')
        return found
    return parse


def host_port(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 address in brackets)."""
    host, _, port = text.rpartition(':')
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f'{text!r} is not HOST:PORT')
    return host.strip('[]'), int(port)
