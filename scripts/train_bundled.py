"""Train the bundled models in time nobody else needs: a long run in the background under ``nice -n 19``,
stopped with a checkpoint and resumed exactly, across as many sessions as it takes.

    DREAMWRIGHT_DATA=../shared/data python scripts/train_bundled.py start english-char   # or tang-poetry
    python scripts/train_bundled.py status                 # every recipe: step, best validation, running?
    python scripts/train_bundled.py stop english-char      # Ctrl-C for the run: it saves a checkpoint and exits
    python scripts/train_bundled.py anneal english-char --minutes 20   # a copy, its schedule ended on time
    python scripts/train_bundled.py bundle english-char --note "85 minutes on one CPU thread; 1.88 bpc held out"
                                                           # best weights -> src/dreamwright/bundled/NAME (fp16)

``start`` prepares the corpus once, then starts ``dreamwright train`` (or ``--resume``s the run when its
directory holds a checkpoint) detached, at the lowest priority (its session's too, where Linux schedules by
session) and with one thread, writing to
``RUN_DIR.log``. The budget is in optimizer steps, so the cosine schedule is the same however the run is cut
up between sessions and machines; a killed run loses at most the steps since its last evaluation.
When a GPU is lent, run the same recipe there first with ``--device cuda``; such a machine is given back when
its command returns, so ``start NAME --device cuda --minutes M --wait`` stays until the run ends (and exits with
its status), and ``bundle NAME`` can follow in the same command.
On a machine whose ``build/`` is gone at the end of the session, ``start NAME --minutes M`` also ends the run
within M minutes, its schedule annealed on time, so that it can be bundled before the session ends; the next
such session goes on from the bundled weights with ``start NAME --continue-from NAME --minutes M`` (a new
schedule from those weights, the recipe's settings otherwise; ``--lr`` lowers its peak so the rewarm does not
undo what the weights learned).
A long run stays near its peak learning rate for most of its budget, so its validation loss says little about
the model it would make if it ended now. ``anneal NAME --minutes M`` answers that without ending it: it copies
the stopped run's checkpoint to ``NAME-vN-annealed-STEP`` and resumes the copy with ``--more-minutes M``, which
anneals the copy's schedule on time; ``bundle NAME --run THAT_COPY`` ships it, and ``start NAME`` goes on with
the original.
Each model keeps every recipe it has had (``ALL_RECIPES``, run directories ``NAME-vN``); the newest is the
default and ``--version N`` names an earlier one, so the weights a model ships with stay reproducible while
its next version trains.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dreamwright.training.checkpoint import TRAINER_STATE
from dreamwright.training.finetune import ARCHITECTURE_KEYS

ROOT = Path(__file__).resolve().parents[1]
RUNS = Path(os.environ.get("DREAMWRIGHT_BUNDLE_RUNS", ROOT / "build" / "bundled-runs"))


@dataclass(frozen=True)
class Recipe:
    """How one bundled model is made: its corpus, its training flags, and the line it ships with."""

    name: str
    version: int
    corpus: str  # what `dreamwright train` reads (a path under build/, or a registry name)
    prepare: tuple[str, ...]  # a command that makes `corpus`, run once (empty: the registry prepares it)
    train: tuple[str, ...]
    trained_on: str

    @property
    def steps(self) -> str:
        """The run's budget in optimizer steps (its cosine schedule's length)."""
        return self.train[self.train.index("--steps") + 1]


def english_recipe(version: int, *train: str, start: str = "start english-char") -> Recipe:
    """A recipe of ``english-char``: every version reads the same English corpus."""
    corpus = "build/english.txt"
    return Recipe(
        name="english-char", version=version, corpus=corpus, train=train,
        prepare=(sys.executable, "scripts/build_english_corpus.py", corpus),
        trained_on="WikiText-2's training split as running text (headings and sentences with <unk> dropped) and "
                   f"tiny Shakespeare, case and punctuation kept, ASCII; 6.6 MB; `scripts/train_bundled.py {start}`",
    )


#: every recipe a bundled model has had, oldest first; a model's newest one is the default
ALL_RECIPES = (
    english_recipe(  # shipped: 1x512 after 105 + 95 minutes, 1.834 bpc on the tail
        2, "--model", "lstm", "--n-layer", "1", "--hidden-size", "512", "--embedding-size", "64",
        "--dropout", "0.1", "--seq-len", "128", "--batch-size", "32", "--lr", "3e-3", "--warmup-steps", "200",
        "--steps", "24000", "--eval-interval", "1000", "--eval-tokens", "100000", "--patience", "1000",
        "--no-samples", "--seed", "1", start="start english-char --version 2",
    ),
    # A GPT, not a larger GRU: in this session's probe a 1.4M-parameter GPT reached perplexity 84 in
    # 30 minutes on a third of the CPU, where a 2x512 GRU stood at 174 after as many poems. bf16 autocast
    # is 1.6x faster on a CPU with AMX (and on a GPU); drop it on an AVX2-only CPU, where it is slower.
    Recipe(
        name="tang-poetry",
        version=2,
        corpus="tang",
        prepare=(),
        train=("--task", "poems", "--model", "gpt", "--n-layer", "4", "--n-head", "4", "--n-embd", "256",
               "--block-size", "128", "--dropout", "0.1", "--min-count", "5", "--batch-size", "32",
               "--lr", "2e-3", "--weight-decay", "0.1", "--warmup-steps", "100", "--precision", "bf16",
               "--steps", "30000", "--eval-interval", "500", "--eval-tokens", "200000", "--patience", "1000",
               "--no-samples", "--seed", "0"),
        trained_on="the Tang poems of chinese-poetry (全唐诗, simplified), one tagged poem per row; the model of "
                   "作诗姬 (`dreamwright poem`); `scripts/train_bundled.py start tang-poetry`",
    ),
    # Two layers and more dropout: v2's 1x512 went under its held-out loss in training and stopped gaining.
    # Its budget is long, for runs across sessions; a session that must ship resumes it with `--minutes`,
    # which anneals the schedule on time.
    english_recipe(
        3, "--model", "lstm", "--n-layer", "2", "--hidden-size", "512", "--embedding-size", "64",
        "--dropout", "0.2", "--seq-len", "128", "--batch-size", "32", "--lr", "3e-3", "--warmup-steps", "200",
        "--steps", "40000", "--eval-interval", "250", "--eval-tokens", "50000", "--patience", "1000",
        "--no-samples", "--seed", "1",
    ),
)


#: each model's newest recipe: what `start`, `stop` and `bundle` take unless `--version` names an earlier one
RECIPES = {r.name: r for r in ALL_RECIPES}


def recipe_for(name: str, version: int | None = None) -> Recipe:
    """The recipe of model ``name`` at ``version`` (default: its newest); exits with one line for another."""
    if version is None:
        return RECIPES[name]
    for recipe in ALL_RECIPES:
        if recipe.name == name and recipe.version == version:
            return recipe
    known = ", ".join(str(r.version) for r in ALL_RECIPES if r.name == name)
    sys.exit(f"{name} has no version {version} recipe; its versions: {known}")


def as_argument(recipe: Recipe) -> str:
    """How a command names ``recipe``: the model's name, with ``--version`` when it is not the newest."""
    newest = RECIPES[recipe.name].version == recipe.version
    return recipe.name if newest else f"{recipe.name} --version {recipe.version}"


def run_dir(recipe: Recipe) -> Path:
    return RUNS / f"{recipe.name}-v{recipe.version}"


def annealed_dir(recipe: Recipe, step: int) -> Path:
    """Where ``anneal`` copies the recipe's run at checkpoint ``step``."""
    out = run_dir(recipe)
    return out.with_name(f"{out.name}-annealed-{step}")


def annealed_step(copy: Path) -> int | None:
    """The checkpoint step an annealed copy was made from (read from its name), or None for another folder."""
    tail = copy.name.rsplit("-", 1)[1]
    return int(tail) if tail.isdigit() else None


def annealed_dirs(recipe: Recipe) -> list[Path]:
    """The annealed copies of the recipe's run (``anneal``), earliest checkpoint first."""
    out = run_dir(recipe)
    found = out.parent.glob(f"{out.name}-annealed-*")
    return sorted((p for p in found if p.is_dir() and annealed_step(p) is not None), key=annealed_step)


def checkpoint_step(out: Path) -> int:
    """The optimizer step of the checkpoint in run directory ``out``."""
    from safetensors import safe_open

    with safe_open(out / TRAINER_STATE, "pt") as f:
        return int(json.loads(f.metadata()["trainer"])["step"])


def pid_of(recipe: Recipe, out: Path | None = None) -> int | None:
    """The pid of the training process of the recipe's run (or of its copy ``out``), or None."""
    pid_file = (out or run_dir(recipe)).with_suffix(".pid")
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def without_architecture(flags: tuple[str, ...]) -> list[str]:
    """The recipe's training flags less those that shape the network (a continued run takes the source's)."""
    out, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag.startswith("--") and flag[2:].replace("-", "_") in ARCHITECTURE_KEYS:
            skip = True
        else:
            out.append(flag)
    return out


def with_flag(flags: list[str], flag: str, value: str) -> list[str]:
    """``flags`` with ``flag``'s value replaced by ``value`` (appended when absent)."""
    if flag not in flags:
        return [*flags, flag, value]
    i = flags.index(flag)
    return [*flags[: i + 1], value, *flags[i + 2 :]]


def bf16_is_slow(device: str) -> bool:
    """Whether bf16 autocast would slow this run down: on a CPU without native bf16 (AVX2 only) it is emulated."""
    import torch

    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    return on_cpu and not torch.ops.mkldnn._is_mkldnn_bf16_supported()


def start(recipe: Recipe, threads: int, device: str, minutes: float | None = None,
          continue_from: str | None = None, lr: str | None = None, wait: bool = False) -> None:
    if (pid := pid_of(recipe)) is not None:
        sys.exit(f"{recipe.name} is already training (pid {pid}); `stop {as_argument(recipe)}` first")
    out = run_dir(recipe)
    resuming = (out / TRAINER_STATE).exists()
    if resuming and continue_from:
        sys.exit(f"{out} holds a run already: `start {as_argument(recipe)}` resumes it; move it away to continue from "
                 f"{continue_from} instead")
    if resuming and lr is not None:
        sys.exit(f"{out} holds a run already: its schedule is saved with it, so --lr applies to a new run only")
    if recipe.prepare and not (ROOT / recipe.corpus).exists():
        subprocess.run(recipe.prepare, cwd=ROOT, check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if resuming:
        args = resume_args(recipe, out, minutes)
    elif continue_from:  # a new schedule from earlier weights (a session whose checkpoint is gone)
        args = [recipe.corpus, "--out", str(out), "--init-from", continue_from, *without_architecture(recipe.train)]
    else:
        args = [recipe.corpus, "--out", str(out), *recipe.train]
    if lr is not None:
        args = with_flag(args, "--lr", lr)
    if "bf16" in args and bf16_is_slow(device):
        print(f"{recipe.name}: this CPU has no native bf16, so the run trains in fp32")
        args = with_flag(args, "--precision", "fp32")
    if minutes is not None and not resuming:  # the budget furthest along drives the schedule: it anneals in time
        args += ["--minutes", str(minutes)]
    proc = launch(out, args, threads, device)
    print(f"{recipe.name}: {'resumed' if resuming else 'started'} in {out} (pid {proc.pid}, "
          f"log {out.with_suffix('.log')})", flush=True)
    if wait:
        wait_for(proc, out)


def resume_args(recipe: Recipe, out: Path, minutes: float | None) -> list[str]:
    """The ``dreamwright train`` arguments that resume run ``out``: with the recipe's step budget (so the recipe
    stays the one place that sets it), or for ``minutes`` more, which anneals its schedule within them (the
    trainer takes a total budget or more of one, not both)."""
    if minutes is None:
        return ["--resume", str(out), "--steps", recipe.steps]
    return ["--resume", str(out), "--more-minutes", str(minutes)]


def launch(out: Path, args: list[str], threads: int, device: str) -> subprocess.Popen:
    """Start ``dreamwright train ARGS`` for run directory ``out`` detached, at the lowest priority, logging to
    ``out.log`` and recording its pid in ``out.pid``."""
    command = ["nice", "-n", "19", sys.executable, "-m", "dreamwright", "train", *args,
               "--threads", str(threads), "--device", device]
    with open(out.with_suffix(".log"), "a", encoding="utf-8") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        env = {**os.environ, "COLUMNS": "120"}
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    yield_to_other_sessions(proc.pid)
    out.with_suffix(".pid").write_text(str(proc.pid))
    return proc


def wait_for(proc: subprocess.Popen, out: Path) -> None:
    """Wait for the training run ``proc`` of run directory ``out`` to end, then print the end of its log and exit
    with its status: for a machine that is given back when its command returns (a lent GPU). Ctrl-C stops the
    run as ``stop`` does, with a checkpoint."""
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        code = proc.wait()
    tail = out.with_suffix(".log").read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
    print("\n".join(tail))
    if code:
        sys.exit(f"the run ended with status {code}; its log is {out.with_suffix('.log')}")


def yield_to_other_sessions(pid: int) -> None:
    """Give the session of detached process ``pid`` the lowest priority. Where Linux schedules by session
    (autogroup, the default on most distributions), ``nice`` only ranks a process within its own session, so a
    run at ``nice -n 19`` would still take half the CPU from a test run in another terminal. Elsewhere a no-op."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text("19")
    except OSError:
        pass


def anneal(recipe: Recipe, minutes: float | None, threads: int, device: str) -> None:
    """Copy the stopped run's checkpoint and resume the copy with its schedule annealed within ``minutes``."""
    out = run_dir(recipe)
    if minutes is None or minutes <= 0:
        sys.exit("anneal needs --minutes M (M > 0): how long the copy trains while its learning rate comes down")
    if (pid := pid_of(recipe)) is not None:
        sys.exit(f"{recipe.name} is training (pid {pid}): `stop {as_argument(recipe)}` first, so that the copy "
                 "starts from its latest checkpoint")
    if not (out / TRAINER_STATE).exists():
        sys.exit(f"{out} holds no checkpoint to anneal: `start {as_argument(recipe)}` trains one")
    step = checkpoint_step(out)
    copy = annealed_dir(recipe, step)
    if copy.exists():
        sys.exit(f"{copy} exists: this checkpoint was annealed already; `bundle {as_argument(recipe)} --run {copy}` "
                 "ships it, or remove it to anneal again")
    partial = copy.with_name(copy.name + ".partial")  # a copy cut off half-way is never taken for a run
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(out, partial)
    partial.rename(copy)
    pid = launch(copy, resume_args(recipe, copy, minutes), threads, device).pid
    print(f"{recipe.name}: annealing a copy of step {step:,} for {minutes:g} minutes in {copy} "
          f"(pid {pid}, log {copy.with_suffix('.log')})")


def stop(recipe: Recipe, wait: float = 600) -> None:
    pid = pid_of(recipe)
    if pid is None:
        print(f"{recipe.name}: not running")
        return
    os.kill(pid, signal.SIGINT)  # the trainer finishes its step and saves a checkpoint
    deadline = time.monotonic() + wait
    while pid_of(recipe) is not None and time.monotonic() < deadline:
        time.sleep(1)
    print(f"{recipe.name}: {'stopped' if pid_of(recipe) is None else 'still saving'}")


def status(recipe: Recipe, out: Path | None = None) -> str:
    """One line on the recipe's run (or on its annealed copy ``out``): steps, best evaluation, running or not."""
    label = f"{recipe.name} v{recipe.version}" + (f" (annealed copy of step {annealed_step(out)})" if out else "")
    out = out or run_dir(recipe)
    metrics = out / "metrics.jsonl"
    if not metrics.exists():
        return f"{label}: not started"
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    steps = max((r.get("step", 0) for r in rows), default=0)
    evals = [r for r in rows if "val_loss" in r]
    best = min(evals, key=lambda r: r["val_loss"]) if evals else None
    total = recipe.steps
    running = "training" if pid_of(recipe, out) is not None else "stopped"
    best_text = "no evaluation yet"
    if best:
        bpc = f" ({best['val_bpc']:.3f} bpc)" if "val_bpc" in best else ""
        best_text = f"best validation {best['val_loss']:.4f} nats{bpc} at step {best['step']:,}"
    return f"{label}: step {steps:,} of {int(total):,}, {best_text}, {running} ({out})"


def bundle(recipe: Recipe, note: str | None = None, run: Path | None = None) -> None:
    """Ship the best weights of the recipe's run (or of ``run``, e.g. an annealed copy) as the bundled model."""
    source = run or run_dir(recipe)
    if run is not None and run.resolve() not in {d.resolve() for d in (run_dir(recipe), *annealed_dirs(recipe))}:
        sys.exit(f"--run {run} is not {as_argument(recipe)}'s run or one of its annealed copies "
                 f"(`status {as_argument(recipe)}` lists them)")
    dest = ROOT / "src" / "dreamwright" / "bundled" / recipe.name
    trained_on = recipe.trained_on + (f"; {note}" if note else "")
    subprocess.run([sys.executable, "scripts/bundle_model.py", str(source), str(dest),
                    "--trained-on", trained_on, "--version", str(recipe.version)], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "status", "anneal", "bundle"))
    parser.add_argument("recipe", nargs="?", choices=sorted(RECIPES), help="default for status: all")
    parser.add_argument("--version", type=int, help="an earlier recipe of the model (default: its newest)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--minutes", type=float, help="start: also end (and anneal) within this many minutes, for a "
                        "machine that is gone at the end of the session; anneal: how long the copy trains")
    parser.add_argument("--run", type=Path, help="bundle: ship this annealed copy instead of the run itself")
    parser.add_argument("--note", help="bundle: what this run was (time, machine, held-out figure), appended to "
                        "what `dreamwright models` says it was trained on")
    parser.add_argument("--lr", help="start: the peak learning rate instead of the recipe's (lower it when "
                        "continuing from trained weights, so the rewarm does not undo them)")
    parser.add_argument("--continue-from", metavar="RUN_OR_BUNDLED",
                        help="start: begin from these weights (e.g. the bundled model an earlier session left) "
                             "with a new schedule, when the run's own checkpoint is gone")
    parser.add_argument("--wait", action="store_true",
                        help="start: stay until the run ends and exit with its status (on a machine that is given "
                             "back when its command returns, such as a lent GPU)")
    args = parser.parse_args(argv)
    if args.action == "status" and args.recipe is None:
        for recipe in ALL_RECIPES:
            print(status(recipe))
            for copy in annealed_dirs(recipe):
                print(status(recipe, copy))
        return
    if args.recipe is None:
        parser.error(f"{args.action} needs a recipe: {', '.join(RECIPES)}")
    recipe = recipe_for(args.recipe, args.version)
    if args.action == "status":
        for out in (None, *annealed_dirs(recipe)):
            print(status(recipe, out))
        return
    if args.action == "start":
        start(recipe, args.threads, args.device, args.minutes, args.continue_from, args.lr, args.wait)
    elif args.action == "anneal":
        anneal(recipe, args.minutes, args.threads, args.device)
    elif args.action == "bundle":
        bundle(recipe, args.note, args.run)
    else:
        stop(recipe)


if __name__ == "__main__":
    main()
