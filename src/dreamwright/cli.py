"""The ``dreamwright`` command line: a thin layer over the Python API.

Every user error surfaces as one line on stderr (``error: …``) and exit code 2, with no traceback.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dreamwright._cli_runner import run_typer_app
from dreamwright.decoding.defaults import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE
from dreamwright.errors import DreamwrightError

app = typer.Typer(
    name="dreamwright",
    help="Train neural language models on any text and generate in its style.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from dreamwright._version import __version__

        typer.echo(f"dreamwright {__version__}")
        raise typer.Exit()


@app.callback()
def _main_options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """The options that come before the command (``--version``); the app's help text says what it does."""


class Unknown(str, Enum):
    error = "error"
    skip = "skip"


# --------------------------------------------------------------------------- train
@app.command(no_args_is_help=True)
def train(
    corpus: Annotated[str | None, typer.Argument(help="Text file, folder of .txt files, or built-in name "
                                                    "(shakespeare, nietzsche, ptb, wikitext-2, tang).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default: runs/CORPUS-TIME).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory.")] = None,
    init_from: Annotated[str | None, typer.Option("--init-from", help="Fine-tune: start from this run's or "
                                                  "bundled model's weights (see `dreamwright models`).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run directory.")] = False,
    preset: Annotated[str | None, typer.Option(help="Named settings; see `dreamwright presets`.")] = None,
    lower: Annotated[bool | None, typer.Option("--lower", help="Lowercase the text (as the books do).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of the corpus [utf-8]; auto detects it.")] = None,
    valid_fraction: Annotated[float | None, typer.Option(help="Held-out tail of the text [0.1].")] = None,
    documents: Annotated[bool | None, typer.Option("--documents", help="Folder corpus: mark the end of "
                                                   "each file (document mode).")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="char | word | bpe (default: the corpus's own).")] = None,
    vocab_size: Annotated[int | None, typer.Option(help="Word/BPE vocabulary size.")] = None,
    task: Annotated[str | None, typer.Option(help="How the corpus is read: text (streams) or poems (one tagged "
                                             "poem per row; the default for tang).")] = None,
    min_count: Annotated[int | None, typer.Option(help="Poems: characters seen fewer times become □.")] = None,
    model: Annotated[str | None, typer.Option(help="simplernn | lstm | gru | gpt.")] = None,
    n_layer: Annotated[int | None, typer.Option(help="Layers.")] = None,
    hidden_size: Annotated[int | None, typer.Option(help="RNN hidden units.")] = None,
    embedding_size: Annotated[int | None, typer.Option(help="RNN embedding size (0: one-hot input).")] = None,
    n_head: Annotated[int | None, typer.Option(help="GPT attention heads.")] = None,
    n_embd: Annotated[int | None, typer.Option(help="GPT width.")] = None,
    block_size: Annotated[int | None, typer.Option(help="GPT context length.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Dropout probability.")] = None,
    tie_weights: Annotated[bool | None, typer.Option("--tie-weights/--no-tie-weights",
                                                        help="Share input and output embeddings.")] = None,
    seq_len: Annotated[int | None, typer.Option(help="Tokens per training sequence (BPTT length).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Sequences per batch.")] = None,
    optimizer: Annotated[str | None, typer.Option(help="adamw | rmsprop | sgd.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="AdamW weight decay.")] = None,
    schedule: Annotated[str | None, typer.Option(help="cosine | plateau | constant | step.")] = None,
    warmup_steps: Annotated[int | None, typer.Option(help="Linear warmup steps.")] = None,
    grad_clip: Annotated[float | None, typer.Option(help="Gradient norm clip (0: off).")] = None,
    grad_accum: Annotated[int | None, typer.Option(help="Micro-batches per step (the global batch stays "
                                                      "--batch-size).")] = None,
    precision: Annotated[str | None, typer.Option(help="fp32 | bf16 | fp16 (autocast).")] = None,
    compile: Annotated[bool | None, typer.Option("--compile", help="torch.compile the model.")] = None,
    epochs: Annotated[float | None, typer.Option(help="Budget in epochs.")] = None,
    steps: Annotated[int | None, typer.Option(help="Budget in optimizer steps.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Budget in wall-clock minutes (default 10 "
                                                      "when no budget is given).")] = None,
    eval_interval: Annotated[int | None, typer.Option(help="Steps between evaluations.")] = None,
    eval_tokens: Annotated[int | None, typer.Option(help="Cap on validation tokens scored.")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after this many evaluations without "
                                                       "improvement.")] = None,
    log_interval: Annotated[int | None, typer.Option(help="Steps between metrics.jsonl lines.")] = None,
    samples: Annotated[bool | None, typer.Option("--samples/--no-samples",
                                                    help="Print samples at each evaluation.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (a run is reproducible with steps as "
                                                   "its budget).")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for PyTorch.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    nproc: Annotated[int | None, typer.Option(help="Data-parallel processes on this machine (relaunches "
                                                 "under torchrun).")] = None,
) -> None:
    """Train a language model on a corpus and keep the best checkpoint in a run directory."""
    from dreamwright.training.trainer import train as run_training

    if nproc is not None and nproc > 1 and "WORLD_SIZE" not in os.environ:
        _relaunch_under_torchrun(nproc)
        return

    options = dict(lower=lower, encoding=encoding, valid_fraction=valid_fraction, documents=documents,
                   tokenizer=tokenizer, vocab_size=vocab_size, task=task, min_count=min_count, model=model,
                   n_layer=n_layer,
                   hidden_size=hidden_size, embedding_size=embedding_size, n_head=n_head, n_embd=n_embd,
                   block_size=block_size, dropout=dropout, tie_weights=tie_weights, seq_len=seq_len,
                   batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay, schedule=schedule,
                   warmup_steps=warmup_steps, grad_clip=grad_clip, grad_accum=grad_accum, precision=precision,
                   compile=compile, epochs=epochs, steps=steps, minutes=minutes, eval_interval=eval_interval,
                   eval_tokens=eval_tokens, patience=patience, log_interval=log_interval, samples=samples,
                   seed=seed, device=device, threads=threads)
    if resume is not None:
        if corpus is not None and Path(corpus).resolve() != resume.resolve():
            raise DreamwrightError("give either a corpus or --resume RUN_DIR, not both")
        result = run_training(resume=resume, quiet=quiet, init_from=init_from, **options)
    else:
        if corpus is None:
            raise DreamwrightError("give a corpus to train on, or --resume RUN_DIR")
        result = run_training(corpus, out, force=force, preset=preset, quiet=quiet, init_from=init_from,
                              **options)
    if quiet:
        typer.echo(str(result))


def _relaunch_under_torchrun(nproc: int) -> None:
    """Run this same `dreamwright train` command as ``nproc`` DDP processes via torchrun."""
    import subprocess

    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        args.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "dreamwright", *args]
    env = {**os.environ}
    env.setdefault("OMP_NUM_THREADS", "1")
    code = subprocess.call(command, env=env)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- generate
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def parse_escapes(text: str) -> str:
    r"""``text`` taken literally, except the escapes ``\n`` (newline), ``\t`` (tab) and ``\\`` (backslash)."""
    import re

    return re.sub(r"\\([nt\\])", lambda m: _ESCAPES[m[1]], text)


def _read_prompt(prompt: str, prompt_file: Path | None) -> str:
    """The prompt text: ``-p TEXT``, ``-p -`` (standard input) or ``--prompt-file F`` (UTF-8, read as is)."""
    if prompt_file is not None:
        if prompt:
            raise DreamwrightError("give either --prompt or --prompt-file, not both")
        if not prompt_file.is_file():
            raise DreamwrightError(f"no such prompt file: {prompt_file}")
        try:
            return prompt_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DreamwrightError(f"prompt file {prompt_file} is not UTF-8 (byte offset {exc.start})") from None
    if prompt == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        try:
            return stdin.read().decode("utf-8") if stdin is not None else sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise DreamwrightError(f"the prompt on standard input is not UTF-8 (byte offset {exc.start})") from None
    return prompt


def _check_output_file(path: Path) -> None:
    """``-o FILE`` must name a file in an existing folder."""
    if path.is_dir():
        raise DreamwrightError(f"--output {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise DreamwrightError(f"folder {path.parent} for --output does not exist; create it first")


def _load_model(run: str | None, device: str | None):
    """The generator for ``run`` (a run directory or bundled model name; the default bundled model when None)."""
    import dreamwright
    from dreamwright import bundled

    if run is not None and not Path(run).expanduser().exists() and bundled.find(run) is None:
        raise DreamwrightError(f"no such run directory or bundled model: {run}; "
                               "`dreamwright models` lists the models you can use")
    return dreamwright.load(run, device=device)


@app.command()
def generate(
    run: Annotated[str | None, typer.Argument(help="Run directory or bundled model (default: the "
                                                 "bundled Shakespeare model).")] = None,
    prompt: Annotated[str, typer.Option("--prompt", "--primetext", "-p",
                                        help="Text to continue; - reads it from standard input.")] = "",
    prompt_file: Annotated[Path | None, typer.Option("--prompt-file", help="Read the prompt from this UTF-8 "
                                                     "file.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", "--length", "-n",
                                                help="Tokens to generate.")] = DEFAULT_MAX_NEW_TOKENS,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy; higher = bolder.")]
    = DEFAULT_TEMPERATURE,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the k most likely tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass in (0, 1].")] = None,
    repetition_penalty: Annotated[float, typer.Option(help="> 1 discourages repeating tokens.")] = 1.0,
    num_samples: Annotated[int, typer.Option("--num-samples", "-s", help="Samples, decoded as one batch.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Random seed for reproducible samples.")] = None,
    stop: Annotated[list[str] | None, typer.Option(metavar="TEXT", help="Stop at this text (repeatable; taken "
                                                   "literally, except \\n, \\t and \\\\).")] = None,
    stream: Annotated[bool, typer.Option(help="Print text as it is generated.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the samples to this file "
                                                "instead of standard output.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per sample and line: text, prompt, "
                                          "tokens, finish_reason, seed, model.")] = False,
    unknown: Annotated[Unknown, typer.Option(help="Prompt pieces missing from the vocabulary: error or "
                                             "skip.")] = Unknown.error,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
) -> None:
    """Continue a prompt with a trained model."""
    import json
    from contextlib import nullcontext

    if as_json and stream:
        raise DreamwrightError("--json writes whole samples; drop --stream")
    stops = [parse_escapes(s) for s in (stop or [])]
    text = _read_prompt(prompt, prompt_file)
    if output is not None:
        _check_output_file(output)
    generator = _load_model(run, device)
    request = generator.request(
        text, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
        repetition_penalty=repetition_penalty, num_samples=num_samples, seed=seed, stop=stops,
        unknown=unknown.value)
    if run is None:
        typer.echo(f"using the bundled model {generator.name}", err=True)
    with (open(output, "w", encoding="utf-8") if output is not None else nullcontext(sys.stdout)) as out:
        if stream and num_samples == 1:
            out.write(text)
            for item in generator.stream_request(request):
                if not isinstance(item, list):
                    out.write(item[1])
                    out.flush()
            out.write("\n")
            return
        for i, completion in enumerate(generator.complete_request(request)):
            if as_json:
                record = {"text": completion.text, "prompt": text, "tokens": completion.completion_tokens,
                          "finish_reason": completion.finish_reason, "seed": completion.seed,
                          "model": generator.name}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                continue
            if num_samples > 1:
                out.write(f"--- sample {i + 1} ---\n")
            out.write(text + completion.text + "\n")


# --------------------------------------------------------------------------- eval
@app.command("eval")
def evaluate(
    run: Annotated[str, typer.Argument(help="Run directory or bundled model.")],
    file: Annotated[Path, typer.Argument(help="UTF-8 text file to score.")],
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    lower: Annotated[bool, typer.Option("--lower", help="Lowercase the text first.")] = False,
    unknown: Annotated[Unknown, typer.Option(help="Pieces missing from the vocabulary: error or skip.")]
    = Unknown.error,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda.")] = None,
) -> None:
    """Score a model on any text: loss (nats/token), bits per character, perplexity."""
    from dreamwright.data.corpus import encode_text_file
    from dreamwright.tokenizers.base import show_pieces
    from dreamwright.training.evaluate import score_tokens

    if not file.is_file():
        raise DreamwrightError(f"no such file: {file}")
    generator = _load_model(run, device)
    encoded = encode_text_file(file, generator.tokenizer, encoding=encoding, lower=lower, unknown=unknown.value)
    if encoded.unknown:
        count, kinds = sum(encoded.unknown.values()), len(encoded.unknown)
        fate = "dropped" if encoded.dropped else "scored as <unk>"
        typer.echo(f"warning: {file}: {count} occurrence(s) of {kinds} {generator.tokenizer.piece}(s) the model "
                   f"never saw ({show_pieces(sorted(encoded.unknown))}) were {fate}", err=True)
    if len(encoded.ids) < 2:
        raise DreamwrightError(f"{file} has fewer than 2 tokens the model knows; nothing to score")
    score = score_tokens(generator.model, encoded.ids, chars=encoded.chars, device=generator.device)
    typer.echo(f"{file}: {score.tokens:,} tokens, loss {score.loss:.4f} nats/token, "
               f"{score.bpc:.4f} bits/char, perplexity {score.perplexity:.2f}")


# --------------------------------------------------------------------------- listings
@app.command()
def presets() -> None:
    """List the training presets with their parameter counts."""
    from dreamwright import plugins
    from dreamwright.models import build_model
    from dreamwright.training.presets import PRESETS

    plugins.load()

    for name, (description, overrides) in sorted(PRESETS.items()):
        words = overrides.get("tokenizer") in ("word", "bpe") or name.startswith(("word", "ptb"))
        vocab = 10_000 if words else 65
        try:
            n = build_model(overrides.get("model", "lstm"), vocab, **overrides.get("model_args", {})).num_parameters()
            size = f"{n / 1e6:6.2f}M params (vocab {vocab:,})" if "model" in overrides else "the source's size"
        except DreamwrightError:
            size = ""
        typer.echo(f"{name:<18} {size:<28} {description}")


@app.command()
def models(
    runs: Annotated[Path, typer.Option(help="Folder to look for local runs in.")] = Path("runs"),
) -> None:
    """List the bundled models (with what they were trained on) and the runs under ./runs."""
    import json

    from dreamwright import bundled

    for path in bundled.available():
        about = bundled.describe(path)
        typer.echo(f"bundled  {path.name:<18} {about['architecture']}; trained on {about['trained_on']}")
    if runs.is_dir():
        for path in sorted(runs.iterdir()):
            cfg = path / "config.json"
            if cfg.is_file():
                try:
                    data = json.loads(cfg.read_text())
                    best = data.get("metrics", {}).get("best_val_loss")
                    info = f"best val loss {best:.4f}" if best is not None else "no evaluation yet"
                    source = data.get("init_from")
                    if source:
                        info += f"; fine-tuned from {source.get('name')}"
                except (json.JSONDecodeError, AttributeError, TypeError):
                    info = "unreadable config.json"
                typer.echo(f"local    {path}  ({info})")


@app.command()
def corpora() -> None:
    """List the built-in corpora."""
    from dreamwright import plugins
    from dreamwright.data.registry import BUILTIN_CORPORA

    plugins.load_corpora()

    for name, corpus in sorted(BUILTIN_CORPORA.items()):
        typer.echo(f"{name:<14} {corpus.description}")


@app.command()
def demo(
    minutes: Annotated[float, typer.Option(help="Training time.")] = 2.0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default: a new one under "
                                                  "runs/).")] = None,
) -> None:
    """Train on Shakespeare for a couple of minutes, then write at the books' four temperatures."""
    import dreamwright

    result = dreamwright.train("shakespeare", out, minutes=minutes, samples=False)
    generator = dreamwright.load(result.run_dir)
    for t in (0.2, 0.5, 1.0, 1.2):
        text = generator.generate("ROMEO:", max_new_tokens=300, temperature=t, seed=0)[0]
        typer.echo(f"\n=== temperature {t} ===\nROMEO:{text}")


def _register_plugins() -> None:
    from dreamwright import plugins

    for module in plugins.cli_modules():
        module.register(app)


_register_plugins()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dreamwright`` console script."""
    run_typer_app(app, argv, "dreamwright")

if __name__ == "__main__":
    main()
