"""``dreamwright draw`` through the installed command: grids, one file per picture, walks, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamwright import bundled
from tests.cli.helpers import assert_one_line_error, run_dreamwright, run_dreamwright_each
from tests.image.helpers import write_image_run, write_text_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("draw-cli")
    write_image_run(root / "runs" / "gan")
    write_image_run(root / "runs" / "vae", "vae", conditional=False)
    write_text_config(root / "text")
    return root


@pytest.fixture(scope="module")
def gan(runs):
    from dreamwright.image.draw import Drawer

    return Drawer.load(runs / "runs" / "gan", device="cpu")


def grid_of(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.mode == "L"
        return np.asarray(img).astype(int)


def with_bundled(here: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``dreamwright ARGS`` in a subprocess whose bundled models are those in ``here``."""
    code = ("import sys; from pathlib import Path; import dreamwright.bundled as b; b.HERE = Path(sys.argv[1]); "
            "from dreamwright.cli import main; main(sys.argv[2:])")
    return subprocess.run([sys.executable, "-c", code, str(here), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_draw_writes_the_grid_the_api_draws(runs, gan, tmp_path):
    out = tmp_path / "grid.png"
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "-n", "12", "--seed", "5", "--columns", "4",
                           "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(out)]
    assert "12 pictures, seed 5" in proc.stderr and "every class in turn" in proc.stderr
    expected = np.asarray(gan.to_grid(gan.draw(12, seed=5), columns=4)).astype(int)
    drawn = grid_of(out)
    assert drawn.shape == expected.shape == (3 * 30 + 2, 4 * 30 + 2)
    assert np.abs(drawn - expected).max() <= 1  # (a last-bit difference may round one grey level apart)


def test_default_file_names_say_model_class_and_seed(runs, tmp_path):
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "-n", "3", "--seed", "5", "--label", "ankle BOOT",
                           cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "gan-ankle-boot-seed5.png" and (tmp_path / "gan-ankle-boot-seed5.png").is_file()
    assert "class Ankle boot" in proc.stderr
    # no seed: a fresh one, printed, which draws the same pictures again
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "-n", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    seed = proc.stdout.strip().removeprefix("gan-seed").removesuffix(".png")
    assert f"seed {seed}" in proc.stderr
    again = run_dreamwright("draw", str(runs / "runs" / "gan"), "-n", "3", "--seed", seed, "-o", "again.png",
                            cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert np.abs(grid_of(tmp_path / f"gan-seed{seed}.png") - grid_of(tmp_path / "again.png")).max() <= 1


def test_a_folder_gets_one_png_per_picture(runs, tmp_path):
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "-n", "11", "--seed", "1", "-o", f"{tmp_path}/out/")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[0] == "000-t-shirt-top.png" and names[7] == "007-sneaker.png" and names[10] == "010-t-shirt-top.png"
    assert len(names) == 11 and proc.stdout.splitlines() == [str(tmp_path / "out" / n) for n in names]
    with Image.open(tmp_path / "out" / "007-sneaker.png") as img:
        assert img.size == (28, 28) and img.mode == "L"
    proc = run_dreamwright("draw", str(runs / "runs" / "vae"), "-n", "2", "-o", f"{tmp_path}/vae/")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "vae").iterdir()) == ["000.png", "001.png"]


def test_a_walk_is_a_strip_from_one_seed_to_the_other(runs, gan, tmp_path):
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "--interpolate", "--seed", "3", "--to-seed", "9",
                           "--steps", "5", "--label", "bag", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "gan-walk-3-9.png"
    assert "a walk of 5 pictures from seed 3 to seed 9" in proc.stderr and "class Bag" in proc.stderr
    strip = grid_of(tmp_path / "gan-walk-3-9.png")
    assert strip.shape == (32, 5 * 30 + 2)
    first = np.asarray(gan.to_images(gan.draw(1, seed=3, label="Bag"))[0]).astype(int)
    last = np.asarray(gan.to_images(gan.draw(1, seed=9, label="Bag"))[0]).astype(int)
    assert np.abs(strip[2:30, 2:30] - first).max() <= 1 and np.abs(strip[2:30, 122:150] - last).max() <= 1
    # --to-seed alone walks too (the default length, 10)
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), "--seed", "3", "--to-seed", "4", "-o", "w.png",
                           cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert grid_of(tmp_path / "w.png").shape == (32, 10 * 30 + 2)


def test_a_vae_walks_between_two_image_files(runs, tmp_path):
    for name, value in (("a.png", 30), ("b.png", 220)):
        Image.new("L", (40, 40), value).save(tmp_path / name)
    proc = run_dreamwright("draw", str(runs / "runs" / "vae"), "--between", "a.png", "b.png", "--steps", "4",
                           cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "vae-walk-a-b.png" and "from a.png to b.png" in proc.stderr
    assert grid_of(tmp_path / "vae-walk-a-b.png").shape == (32, 4 * 30 + 2)
    assert_one_line_error(run_dreamwright("draw", str(runs / "runs" / "gan"), "--between", "a.png", "b.png",
                                          cwd=tmp_path), "only a VAE encodes pictures")
    assert_one_line_error(run_dreamwright("draw", str(runs / "runs" / "vae"), "--between", "a.png", "nope.png",
                                          cwd=tmp_path), "nope.png")


@pytest.mark.parametrize("args, needles", [
    (["--label", "Hat"], ["unknown label 'Hat'", "7 Sneaker", "9 Ankle boot"]),
    (["-n", "0"], ["--number must be a positive integer"]),
    (["-n", "-4"], ["--number must be a positive integer"]),
    (["--truncation", "0"], ["--truncation must be a number > 0"]),
    (["--columns", "0"], ["--columns must be a positive integer"]),
    (["--interpolate", "--steps", "1"], ["--steps must be an integer >= 2"]),
    (["--interpolate", "-n", "4"], ["a walk draws --steps pictures", "--number"]),
    (["--steps", "4"], ["add --interpolate"]),
    (["-o", "missing/grid.png"], ["folder missing for --output does not exist"]),
    (["-o", "missing/deeper/"], ["folder missing for --output does not exist"]),
    (["-o", "grid.gif"], ["--output grid.gif has extension .gif"]),
])
def test_draw_errors_are_one_line(runs, tmp_path, args, needles):
    proc = run_dreamwright("draw", str(runs / "runs" / "gan"), *args, cwd=tmp_path)
    assert_one_line_error(proc, *needles)
    assert not any(tmp_path.iterdir())  # nothing written


def test_wrong_runs_are_one_line_errors(runs, tmp_path):
    vae, text, gan = runs / "runs" / "vae", runs / "text", runs / "runs" / "gan"
    expected = [
        (["draw", str(vae), "--label", "Bag"], ("draws without classes", "--label")),
        (["draw", str(text)], ("holds a language model", f"dreamwright generate {text}")),
        (["generate", str(gan)], ("holds an image model", f"dreamwright draw {gan}")),
        (["draw", "runs/nope"], ("runs/nope", "dreamwright models")),
        # a bundled model is named as it was given, not by its folder inside the package
        (["draw", bundled.DEFAULT_MODEL], (f"{bundled.DEFAULT_MODEL} holds a language model",
                                           f"(`dreamwright generate {bundled.DEFAULT_MODEL}`)")),
    ]
    procs = run_dreamwright_each(*(command for command, _ in expected), cwd=tmp_path)
    for proc, (_, needles) in zip(procs, expected, strict=True):
        assert_one_line_error(proc, *needles)


def test_without_a_run_draw_uses_the_bundled_image_model(runs, gan, tmp_path):
    here = tmp_path / "bundled"
    here.mkdir()
    assert_one_line_error(with_bundled(here, "draw", cwd=tmp_path), "no bundled image model",
                          "give an image run directory")
    write_image_run(here / bundled.DEFAULT_IMAGE_MODEL, generator_only=True)
    assert_one_line_error(with_bundled(here, "generate", bundled.DEFAULT_IMAGE_MODEL, cwd=tmp_path),
                          f"{bundled.DEFAULT_IMAGE_MODEL} holds an image model",
                          f"(`dreamwright draw {bundled.DEFAULT_IMAGE_MODEL}`")
    proc = with_bundled(here, "draw", "-n", "4", "--seed", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"using the bundled image model {bundled.DEFAULT_IMAGE_MODEL}" in proc.stderr
    assert proc.stdout.strip() == f"{bundled.DEFAULT_IMAGE_MODEL}-seed2.png"
    # dreamwright models lists it, and describes the local image runs
    proc = with_bundled(here, "models", "--runs", str(runs / "runs"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listed = next(line for line in lines if line.startswith("bundled") and bundled.DEFAULT_IMAGE_MODEL in line)
    params = sum(p.numel() for p in gan.model.generator.parameters())  # the generator: what draws
    assert f"DCGAN (conditional, 28×28, 10 classes), {params / 1e6:.2f}M params; trained on fashion-mnist" in listed
    gan_line = next(line for line in lines if line.startswith("local") and line.split()[1].endswith("gan"))
    assert "image model: DCGAN (conditional, 28×28, 10 classes)" in gan_line and "fashion-mnist" in gan_line
    vae_line = next(line for line in lines if line.startswith("local") and line.split()[1].endswith("vae"))
    assert "image model: VAE (unconditional, 28×28)" in vae_line


def test_the_bundled_model_draws_sneakers_offline(tmp_path):
    # any attempt to reach the network goes to a closed port and fails
    offline = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}
    proc = run_dreamwright("draw", "--label", "Sneaker", "-n", "16", "--seed", "4", "-o", "s.png", cwd=tmp_path,
                           env=offline)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "s.png"
    assert f"using the bundled image model {bundled.DEFAULT_IMAGE_MODEL}" in proc.stderr
    assert "16 pictures, seed 4" in proc.stderr and "class Sneaker" in proc.stderr
    from dreamwright.image.draw import Drawer

    drawer = Drawer.load(bundled.DEFAULT_IMAGE_MODEL, device="cpu")
    expected = np.asarray(drawer.to_grid(drawer.draw(16, label="Sneaker", seed=4), columns=8)).astype(int)
    drawn = grid_of(tmp_path / "s.png")
    assert drawn.shape == expected.shape == (2 * 30 + 2, 8 * 30 + 2)  # 8 per row, 28 px and a 2 px border
    assert np.abs(drawn - expected).max() <= 1
    # `dreamwright models` lists it, with what it draws
    proc = run_dreamwright("models", "--runs", str(tmp_path / "none"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if f" {bundled.DEFAULT_IMAGE_MODEL} " in line)
    assert line.startswith("bundled") and "DCGAN (conditional, 28×28, 10 classes)" in line
    assert "trained on the Fashion-MNIST training split" in line
