"""The server's routers, one per concern; :func:`dreamwright.serve.app.create_app` mounts them.

- :mod:`.catalog`: ``GET /healthz``, ``GET /v1/models``, ``GET /v1/models/{id}``
- :mod:`.completions`: ``POST /v1/completions`` (OpenAI's, JSON or Server-Sent Events)
- :mod:`.chat`: ``POST /v1/chat/completions`` (OpenAI's chat, through the model's chat template)
- :mod:`.next_token`: ``POST /v1/next-token`` (the temperature lens)
- :mod:`.audio`: ``POST /v1/audio/speech`` (OpenAI's, for audio models) and ``POST /v1/audio/spectrogram``
- :mod:`.page`: ``GET /`` (the web page; its assets are mounted at ``/static``)
- :mod:`.images`: ``POST /v1/images`` (style transfer, DeepDream, polled for progress) and the page at ``GET /images``
- :mod:`.poetry`: ``POST /v1/poems`` and the 作诗姬 page at ``GET /poetry``
- :mod:`.tokenizer`: vLLM's ``POST /tokenize``, ``POST /detokenize``, ``GET /tokenizer_info`` (for harnesses)
"""
