#!/usr/bin/env bash
# Rebuild the bundled `english-char` base model (issue 13): build its corpus from the data registry, train it,
# and store the best weights in float16 in src/dreamwright/bundled/english-char/.
#
#   DREAMWRIGHT_DATA=../shared/data nice -n 19 scripts/train_english_char.sh [RUN_DIR] [MINUTES] [THREADS]
#
# The bundled model was trained with the defaults below (60 minutes, 1 thread, nice -n 19 on a shared 2-core CPU:
# 10,284 steps, about 3.5 epochs; best validation 1.968 bpc at step 10,000);
# a longer budget (or a GPU: add --device cuda) gives a better base model.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-build/english-char}
MINUTES=${2:-60}
THREADS=${3:-1}
python scripts/build_english_corpus.py build/english.txt
dreamwright train build/english.txt --out "$RUN" --force \
  --model lstm --n-layer 1 --hidden-size 384 --embedding-size 64 --dropout 0.0 \
  --seq-len 64 --batch-size 32 --lr 3e-3 --warmup-steps 200 \
  --minutes "$MINUTES" --eval-interval 1000 --eval-tokens 100000 --patience 1000 --no-samples \
  --seed 1 --threads "$THREADS"
python scripts/bundle_model.py "$RUN" src/dreamwright/bundled/english-char \
  --trained-on "WikiText-2's training split as running text (headings and sentences with <unk> dropped) and tiny Shakespeare, case and punctuation kept, ASCII; 6.6 MB, 1 hour on a shared 2-core CPU; 1.97 bpc on its held-out tail (WikiText prose)"
