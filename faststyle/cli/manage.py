"""`faststyle styles` (list, add, remove, rename), `completion` and `gui`."""

from __future__ import annotations

import json
from pathlib import Path

from faststyle.cli.formatting import _RawEpilogFormatter
from faststyle.errors import FaststyleError


def run_styles(args) -> int:
    from faststyle.model_file import read_card
    from faststyle.styles import available_styles, user_style_dir

    from faststyle.styles import StyleInfo, resolve_style

    styles = available_styles() + [StyleInfo(Path(p).stem, resolve_style(p), "file") for p in args.paths]
    broken = 0
    for style in styles:
        try:
            meta = read_card(style.path).to_dict()
        except FaststyleError as exc:  # one bad file in the folder must not hide the others
            broken += 1
            if args.json:
                print(json.dumps({"name": style.name, "source": style.source, "path": str(style.path),
                                  "ok": False, "error": str(exc)}))
            else:
                print(f"{style.name:<18} {style.source:<8} BROKEN: {exc}")
            continue
        if args.json:
            print(json.dumps({"name": style.name, "source": style.source, "path": str(style.path), "ok": True,
                              "lite_path": str(style.lite) if style.lite else None, "metadata": meta}))
            continue
        painting = ", ".join(str(meta[k]) for k in ("title", "artist", "year") if meta.get(k))
        networks = "full+lite" if style.lite else "full"
        print(f"{style.name:<18} {style.source:<8} {networks:<9} {painting or '-'}")
        if args.verbose:
            print(f"    path: {style.path}")
            if style.lite:
                print(f"    lite: {style.lite}")
            for key in sorted(meta):
                value = meta[key]
                if key == "int8":  # thousands of numbers: say what they are instead
                    value = f"{', '.join(value)} run in int8 (per-channel activation ranges stored)"
                print(f"    {key}: {value}")
    if not args.json:
        if not styles:
            print("no styles found")
        print(f"(user styles folder: {user_style_dir()})")
    return 1 if broken else 0


STYLE_ACTIONS = ("add", "remove", "rename")


def _add_styles(sub) -> None:
    p = sub.add_parser("styles", help="list bundled and user styles; add, remove or rename your own",
                       formatter_class=_RawEpilogFormatter,
                       epilog="manage your own styles (in the user style folder):\n"
                              "  faststyle styles add MODEL.onnx [--name NAME] [--lite]\n"
                              "  faststyle styles remove NAME\n"
                              "  faststyle styles rename OLD NEW")
    p.add_argument("paths", nargs="*", metavar="MODEL.onnx", help="also show these model files")
    p.add_argument("-v", "--verbose", action="store_true", help="show every metadata field")
    p.add_argument("--json", action="store_true", help="one JSON object per style, every metadata field")


def _add_style_actions(sub) -> None:
    """`faststyle styles add|remove|rename`: parsed as hidden commands (main() rewrites the words)."""
    a = sub.add_parser("styles-add", prog="faststyle styles add",
                       description="copy a model into your style folder, checked first")
    a.add_argument("model", help="an .onnx style model (e.g. from faststyle train -o)")
    a.add_argument("--name", help="the style's name (default: the file's name)")
    a.add_argument("--lite", action="store_true", help="add it as the lite network of your style NAME (--fast)")
    r = sub.add_parser("styles-remove", prog="faststyle styles remove", description="delete one of your styles")
    r.add_argument("name", help="the style to delete (and its lite network)")
    n = sub.add_parser("styles-rename", prog="faststyle styles rename", description="rename one of your styles")
    n.add_argument("old", help="its name now")
    n.add_argument("new", help="the new name")


def run_style_action(args) -> int:
    from faststyle.styles import add_user_style, remove_user_style, rename_user_style

    if args.command == "styles-add":
        from faststyle.runtime import StyleModel

        StyleModel.load(args.model)  # refuses files that are not working style models, in one line
        print(f"added {add_user_style(args.model, args.name, args.lite)}")
    elif args.command == "styles-remove":
        print("removed " + ", ".join(str(p) for p in remove_user_style(args.name)))
    else:
        print(f"renamed to {rename_user_style(args.old, args.new)}")
    return 0


def _add_completion(sub) -> None:
    p = sub.add_parser("completion", help="print the tab-completion script for your shell",
                       formatter_class=_RawEpilogFormatter,
                       epilog="bash: add to ~/.bashrc       eval \"$(faststyle completion bash)\"\n"
                              "zsh:  add to ~/.zshrc        eval \"$(faststyle completion zsh)\"\n"
                              "fish: add to config.fish     faststyle completion fish | source")
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")


def run_completion(args) -> int:
    import argcomplete

    print(argcomplete.shellcode(["faststyle"], shell=args.shell))
    return 0


def _style_names(**_) -> list[str]:
    """Completions for -s: every installed style."""
    from faststyle.styles import available_styles

    return ["all"] + [s.name for s in available_styles()]


def _add_gui(sub) -> None:
    p = sub.add_parser("gui", help="open the desktop app (needs the [gui] extra)")
    p.add_argument("image", nargs="?", help="a photo to open")


def run_gui(args) -> int:
    try:
        from faststyle.gui.__main__ import main as gui_main
    except ImportError:
        raise FaststyleError('the desktop app needs PySide6: pip install "faststyle[gui]"') from None
    return gui_main(["faststyle"] + ([args.image] if args.image else []))
