"""作诗姬: classical Chinese quatrains and regulated verse with form, acrostic, rhyme and tones under control.

Python API::

    from dreamwright import poetry
    poems = poetry.write_poems("五绝", acrostic="春夏秋冬", seed=1)   # the bundled tang-poetry model
    print(poems[0].render(poetry.rhyme_table()))
    poetry.check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。").regulated   # True
    poetry.prepare("data/tang")                                          # the training corpus
    poetry.write_couplets("春风又绿江南岸", run="runs/couplets", seed=1)   # 对对子 (a 下联 for a 上联)

Importing this package is cheap; torch is loaded only when a model is.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dreamwright.poetry.couplet import Couplet, CoupletWriter
    from dreamwright.poetry.data import PrepareResult
    from dreamwright.poetry.decode import Poem, PoemRequest, PoemWriter
    from dreamwright.poetry.prosody import PoemReport, RhymeTable

from dreamwright.poetry.defaults import DEFAULT_CANDIDATES

BUNDLED_MODEL = "tang-poetry"
#: the bundled model 对对子 uses when no run is given
COUPLET_MODEL = "tang-couplet"
__all__ = ["BUNDLED_MODEL", "COUPLET_MODEL", "DEFAULT_CANDIDATES", "check_poem", "load_couplet_writer", "load_writer",
           "prepare", "rhyme_table", "write_couplets", "write_poems"]


def register_corpora() -> None:
    """Plugin hook (:mod:`dreamwright.plugins`): the ``tang`` corpus. Cheap: imports no torch."""
    from dreamwright.poetry import data

    data.register()


def register_training() -> None:
    """Plugin hook (:mod:`dreamwright.plugins`): the ``poems`` training task and its ``tang-gru`` preset."""
    from dreamwright.poetry import train

    train.register()


def rhyme_table(download: bool = True) -> RhymeTable:
    """The 平水韵 table (loaded once per process)."""
    from dreamwright.poetry.prosody import RhymeTable

    return RhymeTable.load(download=download)


def check_poem(text: str, form: str | None = None) -> PoemReport:
    """Shape, rhyme and tone-pattern report of a poem."""
    from dreamwright.poetry import prosody

    return prosody.check_poem(text, rhyme_table(), form)


def prepare(out_dir: str = "data/tang", **kwargs: Any) -> PrepareResult:
    """Build the Tang training corpus (see :func:`dreamwright.poetry.data.prepare`)."""
    from dreamwright.poetry import data

    return data.prepare(out_dir, **kwargs)


@functools.lru_cache(maxsize=4)
def load_writer(run_dir: str | None = None, device: str | None = None) -> PoemWriter:
    """A :class:`PoemWriter` for ``run_dir`` (default: the bundled ``tang-poetry`` model)."""
    from dreamwright import bundled
    from dreamwright.errors import CheckpointError
    from dreamwright.generation.generator import Generator
    from dreamwright.poetry.decode import PoemWriter

    if run_dir is None:
        found = bundled.find(BUNDLED_MODEL)
        if found is None:
            raise CheckpointError(
                f"this installation has no bundled {BUNDLED_MODEL} model; give a run directory "
                "trained on `dreamwright poetry prepare` output"
            )
        run_dir = str(found)
    generator = Generator.load(run_dir, device=device)
    return PoemWriter.from_generator(generator)


def write_poems(
    form: str | PoemRequest = "五绝", run_dir: str | None = None, *, device: str | None = None, **options: Any
) -> list[Poem]:
    """Poems of ``form`` (五绝, 七绝, 五律, 七律), or as a :class:`~dreamwright.poetry.decode.PoemRequest` asks;
    the options are its fields (``acrostic``, ``start``, ``keywords``, ``theme``, ``rhyme``, ``tones``,
    ``num_samples``, ``candidates``, ``temperature``, ``seed``, ...)."""
    return load_writer(run_dir, device).write(form, **options)


@functools.lru_cache(maxsize=4)
def load_couplet_writer(run: str | None = None, device: str | None = None) -> CoupletWriter:
    """A :class:`~dreamwright.poetry.couplet.CoupletWriter` for the run directory ``run`` (default: the bundled
    ``tang-couplet`` model)."""
    from dreamwright import bundled
    from dreamwright.errors import CheckpointError
    from dreamwright.generation.generator import Generator
    from dreamwright.poetry.couplet import CoupletWriter

    if run is None:
        found = bundled.resolve(COUPLET_MODEL)
        if found is None:
            raise CheckpointError(f"this installation has no bundled {COUPLET_MODEL} model; pass run=RUN, a run "
                                  "directory trained on tang-couplets")
        run = str(found)
    return CoupletWriter.from_generator(Generator.load(run, device=device))


def write_couplets(upper: str, run: str | None = None, *, device: str | None = None, **options: Any) -> list[Couplet]:
    """下联 for the 上联 ``upper``, best first; the options are :meth:`CoupletWriter.write
    <dreamwright.poetry.couplet.CoupletWriter.write>`'s (``candidates``, ``seed``, ``temperature``, ``n``, ...)."""
    return load_couplet_writer(run, device).write(upper, **options)
