#!/usr/bin/env python3
"""Renders every template here with every conversation of ../../../shared/templates/cases.json and ./cases.json,
set up as Hugging Face's apply_chat_template sets up Jinja2 (the setup shared/templates/expected was made with):
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop controls, raise_exception, tojson without
ASCII escaping, strftime_now fixed at 2026-01-15 09:30, bos_token <BOS>, eos_token <EOS>.
Writes expected/NAME__CASE.txt; a template that raises gives "ERROR: Kind: message".
Run from this folder: python3 render.py (Jinja2 3.1.6)."""
import datetime
import json
import pathlib

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).resolve().parent
SHARED_CASES = HERE.parent.parent.parent / "shared" / "templates" / "cases.json"
NOW = datetime.datetime(2026, 1, 15, 9, 30)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def main():
    cases = json.loads(SHARED_CASES.read_text(encoding="utf-8")) + json.loads((HERE / "cases.json").read_text(encoding="utf-8"))
    out = HERE / "expected"
    out.mkdir(exist_ok=True)
    env = environment()
    for path in sorted(HERE.glob("*.jinja")):
        template = env.from_string(path.read_text(encoding="utf-8"))
        for case in cases:
            context = dict(case["context"])
            context.setdefault("bos_token", "<BOS>")
            context.setdefault("eos_token", "<EOS>")
            try:
                text = template.render(**context)
            except Exception as error:  # the template's own failure is the expected result
                text = f"ERROR: {type(error).__name__}: {error}"
            (out / f"{path.stem}__{case['name']}.txt").write_text(text, encoding="utf-8", newline="")


if __name__ == "__main__":
    main()
