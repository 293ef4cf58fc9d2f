"""Defaults shared by 作诗姬's decoder, CLI and web page (a module of its own, so none of them imports another)."""

#: candidates written per poem by default (the likeliest per character is kept). With tang-poetry v2, 8 at
#: T 0.9 kept poems far more predictable than real ones (a 五绝's reference perplexity 0.33x the real poems');
#: 2 at T 1.0 met every form's targets (ratio >= 0.6, distinct-2 >= 0.95x): docs/poetry.md
DEFAULT_CANDIDATES = 2
#: sampling temperature by default (see DEFAULT_CANDIDATES)
DEFAULT_TEMPERATURE = 1.0
#: 下联 written per 上联 by default (对对子's own measurements, docs/poetry.md)
COUPLET_CANDIDATES = 8
#: 对对子's sampling temperature by default (the decoding core's)
COUPLET_TEMPERATURE = 0.8
#: the longest 上联 对对子 takes when the model's config does not say what it was trained on
COUPLET_MAX_LENGTH = 11
