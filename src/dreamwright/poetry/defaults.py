"""Defaults shared by 作诗姬's decoder, CLI and web page (a module of its own, so none of them imports another)."""

#: candidates written per poem by default (the likeliest per character is kept); timing in docs/poetry.md
DEFAULT_CANDIDATES = 8
#: sampling temperature by default: with 8 candidates, 0.8 wrote poems less varied than real ones (distinct-2
#: 0.85x) and 1.0 less fluent (a 七律's reference perplexity 1.38x the real poems'); docs/poetry.md
DEFAULT_TEMPERATURE = 0.9
#: 对对子's sampling temperature by default (the decoding core's)
COUPLET_TEMPERATURE = 0.8
#: the longest 上联 对对子 takes when the model's config does not say what it was trained on
COUPLET_MAX_LENGTH = 11
