"""``serlib`` command line: ``serlib corpus NAME --root DIR [--json]``."""

from __future__ import annotations

import argparse
import json
import sys

from serlib import corpora


def _corpus(args: argparse.Namespace) -> int:
    manifest = corpora.load_manifest(args.name, args.root, download=not args.no_download)
    info = corpora.summary(manifest)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.name}: {info['utterances']} utterances, {info['speakers']} speakers, {info['hours']:.2f} h")
    for emotion, count in info["emotions"].items():
        print(f"  {emotion:<10} {count}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="summarise a corpus (utterances, speakers, emotions, hours)")
    corpus.add_argument("name", help=f"one of {sorted(corpora.PARSERS)} or a CSV manifest path")
    corpus.add_argument("--root", help="the corpus folder (default: <data root>/<name>)")
    corpus.add_argument("--json", action="store_true", help="print JSON")
    corpus.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing corpus")
    corpus.set_defaults(run=_corpus)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (corpora.CorpusError, ValueError) as err:
        print(f"serlib: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
