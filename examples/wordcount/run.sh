#!/usr/bin/env sh
# The pipeline tour: needs a running stack (`tusk up`) and `tusk` on PATH.
set -eu
cd "$(dirname "$0")"
last_job() { tusk --json list job -p "$1" -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

tusk create repo books
tusk put file books@master:/ -f books/alice.txt -f books/moby.txt -f books/pride.txt
tusk create pipeline -f wordcount.yaml          # runs a first job at once: the repo has data
tusk wait job "wordcount@$(last_job wordcount)"
tusk create pipeline -f top-words.yaml
tusk wait job "top-words@$(last_job top-words)"
tusk get file top-words@master:/top10.txt

# Add a book: only its datum runs in the first stage; the reduce runs again, in the same commit set.
printf 'The quick brown fox jumps over the lazy dog. The dog sleeps.\n' | tusk put file books@master:/fox.txt -f -
tusk wait commit books@master                   # the commit and every job downstream of it
tusk list job -p wordcount
tusk inspect job "wordcount@$(last_job wordcount)"
tusk logs -p wordcount --tail 5
tusk get file top-words@master:/top10.txt
