"""The ``dreamwright`` command line: a thin layer over the Python API.

Every user error surfaces as one line on stderr (``error: …``) and exit code 2, with no traceback.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from dreamwright._cli_runner import knob_option, run_typer_app, with_default
from dreamwright.decoding.defaults import (
    CHAT_MAX_TOKENS,
    CHAT_TEMPERATURE,
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_TEMPERATURE,
)
from dreamwright.errors import DreamwrightError, WrongKindError

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
def _knob_options(config_class: type, by_preset: set[str]) -> list[inspect.Parameter]:
    """The options of ``config_class``'s knobs (its fields with help), in the order they are declared."""
    hints = typing.get_type_hints(config_class)
    return [knob_option(f, hints[f.name], by_preset) for f in dataclasses.fields(config_class) if "help" in f.metadata]


def with_config_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per knob of TrainConfig and ModelOptions, in place of its ``**knobs``.

    The model options follow ``--model``; the command receives the knobs the user did not give as None.
    """
    from dreamwright.training.config import ModelOptions, TrainConfig
    from dreamwright.training.presets import preset_settings

    by_preset = preset_settings()
    config_knobs = _knob_options(TrainConfig, by_preset)
    after_model = next(i + 1 for i, param in enumerate(config_knobs) if param.name == "model")
    knobs = [*config_knobs[:after_model], *_knob_options(ModelOptions, by_preset), *config_knobs[after_model:]]
    signature = inspect.signature(command, eval_str=True)
    own = [param for param in signature.parameters.values() if param.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = signature.replace(parameters=[*own, *knobs])  # type: ignore[attr-defined]
    return command


@app.command(no_args_is_help=True)
@with_config_options
def train(
    corpus: Annotated[str | None, typer.Argument(help="Text file, folder of .txt files, or built-in name "
                                                    "(shakespeare, nietzsche, ptb, wikitext-2, tang).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help=with_default("Run directory.",
                                                                              "runs/CORPUS-TIME"))] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory (options may repeat "
                                                     "its settings; only the budget ones may change).")] = None,
    more_steps: Annotated[int | None, typer.Option(help="With --resume: train this many more steps (instead of "
                                                        "the run's budget).")] = None,
    more_minutes: Annotated[float | None, typer.Option(help="With --resume: train this many more minutes "
                                                            "(instead of the run's budget).")] = None,
    init_from: Annotated[str | None, typer.Option("--init-from", help="Fine-tune: start from this run's or "
                                                  "bundled model's weights (see `dreamwright models`).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run directory.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")] = False,
    nproc: Annotated[int | None, typer.Option(help="Data-parallel processes on this machine (relaunches "
                                                 "under torchrun).")] = None,
    **knobs: Any,
) -> None:
    """Train a language model on a corpus and keep the best checkpoint in a run directory.

    Settings left out come from the preset (`dreamwright presets` lists them); config.json records them all.
    """
    from dreamwright.training.trainer import train as run_training

    if nproc is not None and nproc > 1 and "WORLD_SIZE" not in os.environ:
        _relaunch_under_torchrun(nproc)
        return
    result = run_training(corpus, out, resume=resume, force=force, quiet=quiet, init_from=init_from,
                          more_steps=more_steps, more_minutes=more_minutes, **knobs)
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


def _check_output_file(path: Path, option: str = "--output") -> None:
    """``-o FILE`` must name a file in an existing folder."""
    if path.is_dir():
        raise DreamwrightError(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise DreamwrightError(f"folder {path.parent} for {option} does not exist; create it first")


def _check_model_name(run: str | None) -> None:
    """Refuse a ``run`` that is neither a path nor a bundled model, before PyTorch loads (a typo is answered at
    once)."""
    from dreamwright import bundled

    if run is not None and not Path(run).expanduser().exists() and bundled.find(run) is None:
        raise DreamwrightError(f"no such run directory or bundled model: {run}; "
                               "`dreamwright models` lists the models you can use")


def _load_model(run: str | None, device: str | None):
    """The generator for ``run`` (a run directory or bundled model name; the default bundled model when None).
    An image model is refused in one line that names `dreamwright draw`."""
    from dreamwright import bundled

    _check_model_name(run)
    from dreamwright.generation.generator import Generator

    try:
        return Generator.load(run, device=device)
    except WrongKindError as exc:  # name a bundled model as the user did, not by its folder inside the package
        found = bundled.find(run) if run is not None and not Path(run).expanduser().exists() else None
        if found is None:
            raise
        raise WrongKindError(str(exc).replace(str(found), run)) from None


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
    width: Annotated[int | None, typer.Option("--beam", metavar="N", help="Beam search N wide instead of "
                                              "sampling: print the likeliest continuations found (temperature, "
                                              "top-k, top-p and seed are ignored).")] = None,
    length_penalty: Annotated[float | None, typer.Option(help=with_default(
        "With --beam: rank by log-probability / length ** this (0 = raw sum; > 0 favours longer).", "1.0"),
        show_default=False)] = None,
    n_best: Annotated[int | None, typer.Option(help=with_default("With --beam: continuations to print, best "
                                                                 "first.", "1"), show_default=False)] = None,
    stream: Annotated[bool, typer.Option(help="Print text as it is generated.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the samples to this file "
                                                "instead of standard output.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per sample and line: text, prompt, "
                                          "tokens, finish_reason, seed, model (with --beam: logprob and score "
                                          "in place of seed).")] = False,
    unknown: Annotated[Unknown, typer.Option(help="Prompt pieces missing from the vocabulary: error or "
                                             "skip.")] = Unknown.error,
    seconds: Annotated[float | None, typer.Option(help=with_default("Audio models: seconds of sound to write.",
                                                                    "1.0"), show_default=False)] = None,
    label: Annotated[str | None, typer.Option(help="Audio models: what to say (FSDD: a digit 0-9); default: "
                                              "drawn with the seed.")] = None,
    speaker: Annotated[str | None, typer.Option(help="Audio models: whose voice (FSDD: jackson, theo and others); "
                                                "default: drawn with the seed.")] = None,
    spectrogram: Annotated[Path | None, typer.Option(help="Audio models: draw the clip's spectrogram to this "
                                                     "PNG, beside a real recording of the same label.")] = None,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.")] = None,
) -> None:
    """Continue a prompt with a trained model, or speak with an audio model (-o clip.wav)."""
    import json
    from contextlib import nullcontext

    if as_json and stream:
        raise DreamwrightError("--json writes whole samples; drop --stream")
    if width is None and (length_penalty is not None or n_best is not None):
        raise DreamwrightError("--length-penalty and --n-best apply to beam search; add --beam N")
    if width is not None and (stream or num_samples != 1):
        raise DreamwrightError("--beam prints whole continuations (--n-best of them); drop --stream and "
                               "--num-samples")
    stops = [parse_escapes(s) for s in (stop or [])]
    text = _read_prompt(prompt, prompt_file)
    if output is not None:
        _check_output_file(output)
    if spectrogram is not None:
        _check_output_file(spectrogram, "--spectrogram")
    generator = _load_model(run, device)
    audio = {"seconds": seconds, "label": label, "speaker": speaker, "spectrogram": spectrogram}
    if _speak_if_audio(generator, output, audio, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                       num_samples=num_samples):
        return
    if width is not None:
        hypotheses = generator.beam_search(
            text, width=width, length_penalty=1.0 if length_penalty is None else length_penalty,
            n_best=n_best or 1, max_new_tokens=max_new_tokens, stop=stops,
            repetition_penalty=repetition_penalty, unknown=unknown.value)
    else:
        request = generator.request(
            text, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
            repetition_penalty=repetition_penalty, num_samples=num_samples, seed=seed, stop=stops,
            unknown=unknown.value)
    if run is None:
        typer.echo(f"using the bundled model {generator.name}", err=True)
    with (open(output, "w", encoding="utf-8") if output is not None else nullcontext(sys.stdout)) as out:
        if width is not None:
            _write_hypotheses(out, hypotheses, text, generator.name, as_json)
            return
        if stream and num_samples == 1:
            out.write(text)
            for piece in generator.stream(request):
                out.write(piece.text)
                out.flush()
            out.write("\n")
            return
        for i, completion in enumerate(generator.complete(request)):
            if as_json:
                record = {"text": completion.text, "prompt": text, "tokens": completion.completion_tokens,
                          "finish_reason": completion.finish_reason, "seed": completion.seed,
                          "model": generator.name}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                continue
            if num_samples > 1:
                out.write(f"--- sample {i + 1} ---\n")
            out.write(text + completion.text + "\n")


def _speak_if_audio(generator, output: Path | None, audio: dict[str, Any], **knobs: Any) -> bool:
    """Speak when ``generator`` is an audio model (True); refuse the audio options (and ``-o x.wav``) for a
    text model; False otherwise."""
    from dreamwright.generation.speech import is_audio

    if is_audio(generator):
        if output is None or output.suffix.lower() != ".wav":
            raise DreamwrightError(f"{generator.name} is an audio model: it writes sound; add -o clip.wav")
        seconds = audio.pop("seconds")
        _speak(generator, output, seconds=1.0 if seconds is None else seconds, **audio, **knobs)
        return True
    given = [f"--{k}" for k, v in audio.items() if v is not None]
    if given or (output is not None and output.suffix.lower() == ".wav"):
        raise DreamwrightError(f"{generator.name} is a text model: it writes text, not a WAV "
                               f"({', '.join(given or ['-o FILE.wav'])} need an audio run, e.g. "
                               "`dreamwright generate fsdd-wavenet --label 3 -o three.wav`)")
    return False


def _speak(generator, output: Path, *, spectrogram: Path | None, num_samples: int, **knobs: Any) -> None:
    """Write the clips an audio model speaks (``x.wav``, or ``x-1.wav``, ``x-2.wav``, … for several) and, when
    asked, their spectrogram beside a real recording."""
    from dreamwright.data.audio import write_wav
    from dreamwright.generation.spectrogram import save_spectrograms
    from dreamwright.generation.speech import reference_clip, speak

    clips = speak(generator, num_samples=num_samples, progress=True, **knobs)
    paths = [output] if len(clips) == 1 else [output.with_name(f"{output.stem}-{i + 1}{output.suffix}")
                                              for i in range(len(clips))]
    for path, clip in zip(paths, clips, strict=True):
        write_wav(path, clip.samples, clip.rate)
        what = ", ".join(f"{k} {v}" for k, v in clip.conditions.items())
        typer.echo(f"wrote {path}: {len(clip.samples) / clip.rate:.2f} s at {clip.rate} Hz ({what}; seed "
                   f"{clip.seed})", err=True)
    if spectrogram is not None:
        clip = clips[0]
        panels = [(f"generated ({', '.join(f'{k} {v}' for k, v in clip.conditions.items())})", clip.samples,
                   clip.rate)]
        real = reference_clip(generator, clip.conditions)
        if real is None:
            typer.echo("this run keeps no held-out recordings: the spectrogram shows the generated clip alone",
                       err=True)
        else:
            panels.append(real)
        save_spectrograms(spectrogram, panels)
        typer.echo(f"wrote {spectrogram}", err=True)


def _write_hypotheses(out: typing.TextIO, hypotheses: list, prompt: str, model: str, as_json: bool) -> None:
    """Beam search's continuations, best first: the text (after a header when there are several) or JSON lines."""
    import json

    for i, hyp in enumerate(hypotheses):
        if as_json:
            record = {"text": hyp.text, "prompt": prompt, "tokens": len(hyp.tokens),
                      "finish_reason": hyp.finish_reason, "logprob": hyp.logprob, "score": hyp.score,
                      "model": model}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            continue
        if len(hypotheses) > 1:
            out.write(f"--- beam {i + 1}: score {hyp.score:.4f}, log-prob {hyp.logprob:.4f} ---\n")
        out.write(prompt + hyp.text + "\n")


# --------------------------------------------------------------------------- chat
def _read_question(prompt: str) -> str:
    """``-p TEXT``, or ``-p -``: standard input without its trailing newline; refused when empty."""
    question = _read_prompt(prompt, None)
    if prompt == "-" and question.endswith("\n"):
        question = question[:-2] if question.endswith("\r\n") else question[:-1]
    if not question.strip():
        where = "standard input has no question" if prompt == "-" else "the question is empty"
        raise DreamwrightError(f"{where}; give it with -p TEXT (or -p - and the text on standard input)")
    return question


@app.command()
def chat(
    run: Annotated[str, typer.Argument(help="Run directory or bundled model: a seq2seq chatbot (dreamwright "
                                       "train shakespeare-dialogue --model seq2seq), or a language model.")],
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Answer this question once and exit "
                                               "(- reads it from standard input).")] = None,
    temperature: Annotated[float, typer.Option("--temperature", "-t", help="0 = greedy; higher = bolder.")]
    = CHAT_TEMPERATURE,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the k most likely tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass in (0, 1].")] = None,
    repetition_penalty: Annotated[float, typer.Option(help="> 1 discourages repeating tokens.")] = 1.0,
    beam: Annotated[int, typer.Option(help="Beam search of this width instead of sampling (0: sample).")] = 0,
    seed: Annotated[int | None, typer.Option(help="Random seed: reply k of a conversation uses seed + k.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-tokens", "-n",
                                                help="The longest reply, in tokens.")] = CHAT_MAX_TOKENS,
    attention: Annotated[Path | None, typer.Option(help="With -p: draw the reply's attention over the question "
                                                   "as a PNG here (seq2seq models).")] = None,
    unknown: Annotated[Unknown, typer.Option(help="Characters missing from the vocabulary: error or skip.")]
    = Unknown.error,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.")] = None,
) -> None:
    """Talk with a model: a REPL with line editing and history (/help lists its commands; Ctrl-C cancels a
    reply, Ctrl-D quits), or one answer with -p.

    The conversation so far is what the model reads. A seq2seq model reads the turns; a language model
    continues a transcript rendered by its chat template (as the server's /v1/chat/completions does).
    """
    _check_model_name(run)
    from dreamwright._chat_repl import answer_once, repl
    from dreamwright._cli_runner import report_error
    from dreamwright.generation.chat import Chat, ChatSettings

    if attention is not None:
        if prompt is None:
            raise DreamwrightError("--attention draws one reply: give the question with -p")
        _check_output_file(attention, "--attention")
    question = _read_question(prompt) if prompt is not None else None
    settings = ChatSettings(temperature=temperature, top_k=top_k, top_p=top_p,
                            repetition_penalty=repetition_penalty, beam=beam, seed=seed, max_new_tokens=max_new_tokens,
                            unknown=unknown.value).check()
    generator = _load_model(run, device)
    if attention is not None and not generator.conditional:
        raise DreamwrightError(f"--attention needs a seq2seq model; {run} is a language model, which attends to "
                               "no input")
    conversation = Chat(generator, settings)
    if question is not None:
        answer_once(conversation, question, attention)
        return
    raise typer.Exit(repl(conversation, report_error))


# --------------------------------------------------------------------------- eval
@app.command("eval")
def evaluate(
    run: Annotated[str, typer.Argument(help="Run directory or bundled model.")],
    file: Annotated[Path, typer.Argument(help="UTF-8 text file to score (an audio model: a .wav file, a folder "
                                         "of them, or fsdd for its held-out recordings).")],
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    lower: Annotated[bool, typer.Option("--lower", help="Lowercase the text first.")] = False,
    unknown: Annotated[Unknown, typer.Option(help="Pieces missing from the vocabulary: error or skip.")]
    = Unknown.error,
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N.")] = None,
) -> None:
    """Score a model on any text: loss (nats/token), bits per character, perplexity (an audio model: bits per
    sample)."""
    _check_model_name(run)
    from dreamwright.data.corpus import encode_text_file
    from dreamwright.generation.speech import is_audio
    from dreamwright.tokenizers.base import show_pieces
    from dreamwright.training.evaluate import score_tokens

    generator = _load_model(run, device)
    if is_audio(generator):
        _evaluate_audio(generator, file)
        return
    if not file.is_file():
        raise DreamwrightError(f"no such file: {file}")
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


def _evaluate_audio(generator, target: Path) -> None:
    """Bits per sample of an audio model on WAV files (each clip scored whole, from its start, under the
    conditions its folders or FSDD name give it); ``fsdd`` scores FSDD's held-out recordings."""
    import math

    from dreamwright import plugins
    from dreamwright.data.audio import audio_files, read_clips
    from dreamwright.data.corpus import resolve_corpus
    from dreamwright.training.audio import clip_nats

    plugins.load_corpora()
    source = resolve_corpus(str(target))
    if source.task != "audio":
        raise DreamwrightError(f"{generator.name} is an audio model: score it on sound (a .wav file, a folder of "
                               "them, or fsdd), not on text")
    tokenizer = generator.tokenizer
    files = audio_files(source)
    if source.name == "fsdd" and source.root is None:
        files = [f for f in files if f.held_out]
    clips = [(tokenizer.condition_ids(**{kind: getattr(c, kind, None) or "none" for kind in tokenizer.conditions
                                         if kind != "clip"}), c.tokens)
             for c in read_clips(files, tokenizer.sample_rate).clips]
    total, count = clip_nats(generator.model, clips, generator.device)
    typer.echo(f"{target}: {len(clips):,} clips, {count:,} samples at {tokenizer.sample_rate:,} Hz, "
               f"{total / count / math.log(2):.4f} bits/sample")


# --------------------------------------------------------------------------- listings
@app.command()
def presets() -> None:
    """List the training presets with their parameter counts and the vocabulary each count assumes."""
    from dreamwright import plugins
    from dreamwright.models import build_model, model_names
    from dreamwright.training.presets import PRESETS, preset_vocab

    plugins.load()
    rows, kinds = [("NAME", "PARAMS", "VOCAB", "DESCRIPTION")], {}
    for name, (description, overrides) in sorted(PRESETS.items()):
        vocab, kind = preset_vocab(name)
        if "model" not in overrides:
            rows.append((name, "the source's", "", description))
            continue
        if overrides["model"] in model_names("image"):  # counted for 28×28 grey pictures, unconditional
            n = build_model(overrides["model"], **overrides.get("model_args", {})).num_parameters()
            rows.append((name, f"{n / 1e6:.2f}M", "images", description))
            continue
        n = build_model(overrides["model"], vocab, **overrides.get("model_args", {})).num_parameters()
        rows.append((name, f"{n / 1e6:.2f}M", f"{vocab:,}", description))
        kinds[vocab] = kind
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        typer.echo("  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]), row[3]]))
    notes = ", ".join(f"{vocab:,}: {kind}" for vocab, kind in sorted(kinds.items()))
    typer.echo(f"\nPARAMS counts the model over a vocabulary of VOCAB tokens ({notes}); a corpus with another "
               "vocabulary changes the embedding and output layers. Image models are counted for 28×28 grey "
               "pictures without classes.")


@app.command()
def models(
    runs: Annotated[Path, typer.Option(help="Folder to look for local runs in.")] = Path("runs"),
) -> None:
    """List the bundled models (with what they were trained on) and the runs under ./runs."""
    from dreamwright import bundled

    for path in bundled.available():
        about = bundled.describe(path)
        typer.echo(f"bundled  {path.name:<18} v{about['version']:<3} {about['architecture']}; trained on "
                   f"{about['trained_on']}")
    if runs.is_dir():
        for path in sorted(runs.iterdir()):
            if (path / "config.json").is_file():
                typer.echo(f"local    {path}  ({_run_summary(path)})")


def _run_summary(run_dir: Path) -> str:
    """Best validation loss and fine-tuning source of a run (what an image model draws, first), or why its config
    cannot be read."""
    from dreamwright.runs import read_config, run_kind

    try:
        config = read_config(run_dir)
    except DreamwrightError:
        return "unreadable config.json"
    if run_kind(config) == "image":
        return _image_run_summary(run_dir, config)
    best = (config.get("metrics") or {}).get("best_val_loss")
    summary = f"best val loss {best:.4f}" if isinstance(best, (int, float)) else "no evaluation yet"
    source = config.get("init_from")
    if isinstance(source, dict) and source.get("name"):
        summary += f"; fine-tuned from {source['name']}"
    return summary


def _image_run_summary(run_dir: Path, config: dict[str, Any]) -> str:
    """What an image run draws, what on, and its best validation loss (a VAE's) if it has one."""
    from dreamwright import bundled
    from dreamwright.runs import WEIGHTS

    about = bundled.image_architecture(config, bundled.weight_count(run_dir / WEIGHTS))
    data = (config.get("data") or {}).get("name")
    parts = [f"image model: {about}" + (f", trained on {data}" if data else "")]
    best = (config.get("metrics") or {}).get("best_val_loss")
    if isinstance(best, (int, float)):
        parts.append(f"best val loss {best:.4f}")
    if not (run_dir / WEIGHTS).is_file():
        parts.append("no weights yet")
    return "; ".join(parts)


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
