"""CLI: ``dreamwright poem``, ``dreamwright couplet`` and ``dreamwright poetry prepare|check``; :func:`register` adds
them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from dreamwright._cli_runner import report_error
from dreamwright.errors import DreamwrightError
from dreamwright.poetry.defaults import (
    COUPLET_CANDIDATES,
    COUPLET_TEMPERATURE,
    DEFAULT_CANDIDATES,
    DEFAULT_TEMPERATURE,
)

FORM_HELP = "五绝 | 七绝 | 五律 | 七律"


def _run(fn: Callable[[], None]) -> None:
    """Run ``fn``; a user error prints one line and exits 2 (same contract as the main CLI)."""
    try:
        fn()
    except DreamwrightError as exc:
        raise typer.Exit(report_error(exc)) from None


def _count_from_old_flag(num_samples: int, old_count: int | None) -> int:
    """``-n`` counted poems until -n came to mean a length in every command; it still works, with a warning."""
    if old_count is None:
        return num_samples
    if num_samples not in (1, old_count):
        print("error: give the number of poems once, as -s/--num-samples", file=sys.stderr)
        raise typer.Exit(2)
    print("warning: poem -n is deprecated and goes in the next release (-n is a length elsewhere); "
          "use -s/--num-samples", file=sys.stderr)
    return old_count


def poem(
    run_dir: Annotated[
        str | None,
        typer.Argument(
            help="Run directory trained on prepared poems (default: the bundled tang-poetry model)."
        ),
    ] = None,
    form: Annotated[str, typer.Option("--form", "-f", help=FORM_HELP)] = "五绝",
    acrostic: Annotated[
        str | None, typer.Option(help="藏头: the first character of each line, e.g. 春夏秋冬.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="The poem begins with these characters.")] = None,
    keywords: Annotated[
        str | None,
        typer.Option(help="Comma-separated keywords, one per line in order; the plan fills the rest. E.g. 明月,故乡"),
    ] = None,
    theme: Annotated[
        str | None,
        typer.Option(help="A theme, e.g. 秋思: planned into one keyword per line from Tang co-occurrence (PMI)."),
    ] = None,
    rhyme: Annotated[str, typer.Option(help="strict | loose | off.")] = "strict",
    tones: Annotated[str, typer.Option(help="strict | loose | off.")] = "strict",
    num_samples: Annotated[int, typer.Option("--num-samples", "-s", help="How many poems.")] = 1,
    old_count: Annotated[int | None, typer.Option("-n", hidden=True, help="Deprecated: -s.")] = None,
    candidates: Annotated[
        int,
        typer.Option(
            "--candidates",
            "-c",
            help="Candidates written per poem; the one the model finds likeliest per character is kept.",
        ),
    ] = DEFAULT_CANDIDATES,
    temperature: Annotated[
        float, typer.Option("--temperature", "-t", help="Sampling temperature.")
    ] = DEFAULT_TEMPERATURE,
    seed: Annotated[int | None, typer.Option(help="Random seed (repeatable output).")] = None,
    marks: Annotated[
        bool, typer.Option("--marks/--no-marks", help="Show tone marks and the rhyme group.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per poem.")] = False,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
    threads: Annotated[
        int, typer.Option(help="CPU threads for the model (one is fastest for a model this small).")
    ] = 1,
) -> None:
    """Write 绝句/律诗 with form, acrostic, rhyme and tones enforced while decoding."""

    num_samples = _count_from_old_flag(num_samples, old_count)

    def go() -> None:
        import torch

        from dreamwright._validate import positive_int
        from dreamwright.poetry import load_writer
        from dreamwright.poetry.decode import PoemRequest
        from dreamwright.poetry.plan import plans_warning

        torch.set_num_threads(positive_int("threads", threads))

        writer = load_writer(run_dir, device)
        request = PoemRequest(
            form,
            acrostic=acrostic,
            start=start,
            keywords=keywords,
            theme=theme,
            rhyme=rhyme,
            tones=tones,
            num_samples=num_samples,
            candidates=candidates,
            temperature=temperature,
            seed=seed,
        )
        poems = writer.write(request)
        warning = plans_warning([p.plan for p in poems])
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        table = writer.table if (marks or as_json) and writer.tables_ready else None
        if table is None and marks and not as_json:
            try:
                table = writer.table
            except DreamwrightError:
                table = None
        for k, p in enumerate(poems):
            if as_json:
                print(json.dumps(p.to_dict(), ensure_ascii=False))
                continue
            if k:
                print()
            print(p.render(table, marks=marks and table is not None))

    _run(go)


def couplet(
    upper: Annotated[str, typer.Argument(help="The 上联, Chinese characters, e.g. 春风又绿江南岸.")],
    run: Annotated[
        str | None,
        typer.Option("--run", help="Run directory trained on tang-couplets (default: the bundled tang-couplet model)."),
    ] = None,
    candidates: Annotated[
        int,
        typer.Option("--candidates", "-c",
                     help="下联 written; the ones the model finds likeliest per character are kept."),
    ] = COUPLET_CANDIDATES,
    seed: Annotated[int | None, typer.Option(help="Random seed (repeatable output).")] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", "-t", help="Sampling temperature.")
    ] = COUPLET_TEMPERATURE,
    n: Annotated[int, typer.Option("--num-samples", "-n", "-s", help="How many 下联 to show, best first.")] = 1,
    marks: Annotated[bool, typer.Option("--marks/--no-marks", help="Show each line's tones (平/仄/中).")] = False,
    attention: Annotated[Path | None, typer.Option(help="Draw the best 下联's attention over the 上联 as a PNG "
                                                   "here (a seq2seq model).")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
) -> None:
    """对对子: write a 下联 for a 上联, its length and tone opposition enforced while decoding."""

    def go() -> None:
        from dreamwright.poetry import load_couplet_writer
        from dreamwright.poetry.couplet import clean_upper

        clean_upper(upper)  # an empty or non-Chinese 上联 is said before any model is looked for
        if attention is not None and (attention.is_dir() or not attention.parent.is_dir()):
            raise DreamwrightError(f"--attention {attention} must name a file in an existing folder")
        writer = load_couplet_writer(run, device)
        if attention is not None and not getattr(writer.model, "conditional", False):
            raise DreamwrightError("--attention needs a seq2seq model (trained with --model seq2seq); this one "
                                   "attends to no input")
        couplets = writer.write(upper, candidates=candidates, seed=seed, temperature=temperature, n=n)
        for k, c in enumerate(couplets):
            if k:
                print()
            print(c.render(writer.table, marks=marks))
        if attention is not None:
            print(f"attention: {_draw_attention(writer, couplets[0], attention)}", file=sys.stderr)

    _run(go)


def _draw_attention(writer, couplet, path: Path) -> Path:
    """The attention of ``couplet``'s 下联 over its 上联, drawn as ``dreamwright chat --attention`` draws it."""
    from dreamwright.data.pair_tokens import GO
    from dreamwright.generation.attention import plot_attention, reply_attention

    ids = [writer.index[ch] for ch in couplet.upper] + [writer.index[GO]]
    weights = reply_attention(writer, ids, couplet.lower)
    return plot_attention(weights.source, weights.reply, weights.weights, path)


def prepare(
    out_dir: Annotated[
        str, typer.Argument(help="Folder for train.txt, valid.txt and counts.json.")
    ] = "data/tang",
    valid_fraction: Annotated[float, typer.Option(help="Share of poems held out for validation.")] = 0.06,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 0,
) -> None:
    """Build the training corpus from 全唐诗 (simplified with OpenCC; 五绝/七绝/五律/七律, tagged)."""

    def go() -> None:
        from dreamwright.poetry.data import prepare as run

        result = run(out_dir, valid_fraction=valid_fraction, seed=seed)
        print(result.summary())
        print(f"wrote {result.train_file} and {result.valid_file}")

    _run(go)


def check(
    text: Annotated[
        str, typer.Argument(help="A poem, e.g. 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    ],
) -> None:
    """Check a poem's shape, 平水韵 rhyme and tone pattern."""

    def go() -> None:
        from dreamwright.poetry import check_poem, rhyme_table
        from dreamwright.poetry.decode import Poem

        report = check_poem(text)
        if report.form is None:
            print("not a 五绝/七绝/五律/七律")
            raise typer.Exit(1)
        poem = Poem(
            text,
            report.lines,
            report.form,
            pattern=report.pattern,
            rhyme_group=report.rhyme_group,
            report=report,
        )
        print(poem.render(rhyme_table()))
        print(
            f"form {report.form}; rhyme {'ok' if report.rhyme_ok else 'broken'}; "
            f"tones {'ok' if report.tone_ok else 'not regulated'}"
        )
        for problem in report.problems:
            print(f"- {problem}")

    _run(go)


def register(app: typer.Typer) -> None:
    """Add ``poem``, ``couplet`` and the ``poetry`` sub-app (``prepare``, ``check``) to ``app``."""
    app.command("poem")(poem)
    app.command("couplet")(couplet)
    sub = typer.Typer(help="作诗姬: Tang poetry corpus and prosody tools.", no_args_is_help=True)
    sub.command("prepare")(prepare)
    sub.command("check")(check)
    app.add_typer(sub, name="poetry")
