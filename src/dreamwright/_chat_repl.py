"""``dreamwright chat``'s terminal side: the REPL (line editing and history, streamed replies, slash commands,
Ctrl-C and Ctrl-D) and the one-shot ``-p`` answer. The conversation itself is
:class:`dreamwright.generation.chat.Chat`.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from dreamwright.errors import DreamwrightError, InvalidArgument, VocabularyError
from dreamwright.generation.chat import Chat, check_beam

PROMPT = "you> "
BOT = "bot> "
HISTORY_LINES = 1000
HELP = """\
/reset               forget the conversation
/temperature [T]     show or set the temperature (0 always takes the likeliest character)
/beam [N|off]        show or set the beam search width (0 or off: sample)
/help                this list
Ctrl-C               cancel the reply being written (at the prompt: a fresh prompt)
Ctrl-D               quit
A line starting with // is sent as a message starting with /."""


# --------------------------------------------------------------------------- output
def dim(text: str, stream: TextIO) -> str:
    """``text`` in the terminal's dim style when ``stream`` is a terminal."""
    return f"\x1b[2m{text}\x1b[0m" if _isatty(stream) else text


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def transcript_note(chat: Chat) -> str:
    """What a user should know about chatting with a language model (empty for a seq2seq one)."""
    if not chat.transcript:
        return ""
    template = chat.generator.chat_template
    user, bot = template.roles["user"], template.roles["assistant"]
    return (f"note: {chat.generator.name} is a language model, not a seq2seq chatbot: it continues a transcript "
            f"({user}: … / {bot}: …) rather than reading your question")


def in_chat_words(exc: DreamwrightError) -> DreamwrightError:
    """``exc`` worded for a chat: unknown characters are the question's, not a prompt's."""
    if isinstance(exc, VocabularyError):
        return VocabularyError(str(exc).replace("the prompt has", "the question has", 1), param=exc.param)
    return exc


# --------------------------------------------------------------------------- commands
def command(chat: Chat, line: str) -> str:
    """Carry out the slash command ``line``; what to print. A bad command or value raises (one line)."""
    name, _, arg = line.strip().partition(" ")
    arg = arg.strip()
    if name == "/reset":
        chat.reset()
        return "(the conversation is forgotten)"
    if name == "/temperature":
        return _temperature(chat, arg)
    if name == "/beam":
        return _beam(chat, arg)
    if name in ("/help", "/?"):
        return HELP
    raise InvalidArgument(f"unknown command {name}; /help lists the commands")


def _temperature(chat: Chat, arg: str) -> str:
    from dreamwright.decoding import SamplingParams

    if arg:
        try:
            value = float(arg)
        except ValueError:
            raise InvalidArgument(f"/temperature takes a number >= 0, like /temperature 0.7; got {arg!r}") from None
        try:
            SamplingParams(temperature=value)
        except DreamwrightError as exc:
            raise InvalidArgument(f"/temperature: {exc}") from None
        chat.settings.temperature = value
    t = chat.settings.temperature
    note = " (beam search is on, and does not use it)" if chat.settings.beam else ""
    return f"temperature {t:g}" + (" (greedy)" if t == 0 else "") + note


def _beam(chat: Chat, arg: str) -> str:
    if arg:
        if arg.lower() in ("off", "0"):
            width = 0
        else:
            try:
                width = check_beam(int(arg))
            except (ValueError, DreamwrightError):
                raise InvalidArgument(f"/beam takes a width of 1 or more, or 0 or off to sample; got {arg!r}") from None
        chat.settings.beam = width
    if chat.settings.beam:
        return f"beam search, width {chat.settings.beam} (temperature, top-k and top-p are not used)"
    return f"sampling at temperature {chat.settings.temperature:g}"


# --------------------------------------------------------------------------- line editing and history
def history_file() -> Path:
    """Where the REPL keeps what you typed: ``chat_history`` in dreamwright's cache folder."""
    from dreamwright.data.registry import cache_dir

    return cache_dir() / "chat_history"


def enable_line_editing() -> Callable[[], None]:
    """Line editing and history through ``readline`` when standard input is a terminal; returns what saves
    the history at the end (nothing to do without a terminal or ``readline``)."""
    if not _isatty(sys.stdin):
        return lambda: None
    try:
        import readline
    except ImportError:  # a Python built without it: plain input()
        return lambda: None
    path = history_file()
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(HISTORY_LINES)

    def save() -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError:
            pass

    return save


# --------------------------------------------------------------------------- the REPL
def repl(chat: Chat, report: Callable[[DreamwrightError], object]) -> int:
    """Talk until Ctrl-D (exit status 0). ``report`` prints an error as one line."""
    # Ctrl-C cancels a reply even when the shell that started us ignores SIGINT (a command started with `&`
    # from a script inherits SIG_IGN, and Python then installs no KeyboardInterrupt handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    save_history = enable_line_editing()
    out = sys.stdout
    mode = "seq2seq" if not chat.transcript else "language model"
    out.write(f"chatting with {chat.generator.name} ({mode}); /help lists the commands, Ctrl-D quits\n")
    note = transcript_note(chat)
    if note:
        print(dim(note, sys.stderr), file=sys.stderr)
    try:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                out.write("\n")
                return 0
            except KeyboardInterrupt:
                out.write("\n")
                continue
            _turn(chat, line, report)
    finally:
        save_history()


def _turn(chat: Chat, line: str, report: Callable[[DreamwrightError], object]) -> None:
    """One line typed at the prompt: a command, or a message and the reply, streamed."""
    out = sys.stdout
    if not line.strip():
        return
    if line.startswith("/") and not line.startswith("//"):
        try:
            out.write(command(chat, line) + "\n")
        except DreamwrightError as exc:
            report(exc)
        return
    question = line[1:] if line.startswith("//") else line
    try:
        chat.request(question)  # a message the model cannot read is refused before the reply starts
    except DreamwrightError as exc:
        report(in_chat_words(exc))
        return
    out.write(BOT)
    out.flush()
    try:
        chat.reply(question, lambda text: (out.write(text), out.flush()))
    except KeyboardInterrupt:
        out.write(dim(" [cancelled]", out) + "\n")
        return
    except DreamwrightError as exc:
        out.write("\n")
        report(in_chat_words(exc))
        return
    out.write("\n")


def answer_once(chat: Chat, question: str, attention: Path | None) -> None:
    """``-p``: the reply to ``question`` on standard output, as it is written; with ``attention`` the
    attention picture saved there and its path on standard error."""
    note = transcript_note(chat)
    if note:
        print(dim(note, sys.stderr), file=sys.stderr)
    try:
        chat.request(question)
    except DreamwrightError as exc:
        raise in_chat_words(exc) from None
    out = sys.stdout
    reply = chat.reply(question, lambda text: (out.write(text), out.flush()))
    out.write("\n")
    out.flush()
    if attention is not None:
        from dreamwright.generation.attention import plot_attention, reply_attention

        weights = reply_attention(chat.generator, reply.prompt_ids, reply.text)
        path = plot_attention(weights.source, weights.reply, weights.weights, attention)
        print(f"attention: {path}", file=sys.stderr)
