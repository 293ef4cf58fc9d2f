"""The bundled image model: a class-conditional Fashion-MNIST generator that draws right after installation."""

from __future__ import annotations

import json

import torch

from dreamwright import bundled, runs

NAME = "fashion-dcgan"


def test_it_is_small_generator_only_and_says_how_it_was_made():
    path = bundled.find(NAME)
    assert path is not None
    size = sum(p.stat().st_size for p in path.iterdir())
    assert size <= 5_000_000
    tensors, _ = runs.load_tensors(path / runs.WEIGHTS)
    assert tensors and all(name.startswith("generator.") for name in tensors)
    config = json.loads((path / runs.CONFIG).read_text())
    assert "dreamwright train fashion-mnist --model dcgan --conditional" in config["trained_on"]
    assert config["kind"] == "image" and len(config["data"]["classes"]) == 10


def test_it_draws_distinct_classes_deterministically():
    model, config = runs.load_image_run(bundled.find(NAME))
    classes = config["data"]["classes"]
    draw = lambda label, seed: model.draw(16, labels=classes.index(label),  # noqa: E731
                                          generator=torch.Generator().manual_seed(seed))
    trousers, bags = draw("Trouser", 0), draw("Bag", 0)
    assert torch.equal(trousers, draw("Trouser", 0))
    assert trousers.shape == (16, 1, 28, 28)
    # trousers are tall and narrow: their middle columns are brighter than their side columns; a bag is wide
    def narrowness(pictures):
        columns = pictures.mean(dim=(0, 1, 2))
        return float(columns[11:17].mean() - torch.cat([columns[3:7], columns[21:25]]).mean())

    assert narrowness(trousers) > narrowness(bags) + 0.05
