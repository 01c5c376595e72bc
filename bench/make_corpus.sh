#!/bin/sh
# Builds an English text corpus (one sentence per line, lower-cased word tokens) from Debian's
# dict-gcide package: the GNU Collaborative International Dictionary of English, whose bulk is the
# public-domain 1913 Webster's Revised Unabridged Dictionary (definitions and quotations), plus the
# glosses and usage examples of Princeton WordNet 3.0 (wordnet-base). About 5.2M tokens.
# Usage: bench/make_corpus.sh [OUT]  (default build/corpus.txt; kept out of git).
set -eu
OUT=${1:-build/corpus.txt}
WORK=$(dirname "$OUT")/corpus-src
mkdir -p "$WORK"
if [ ! -f "$WORK/gcide.raw" ]; then
  (cd "$WORK" && apt-get download dict-gcide >/dev/null && dpkg-deb -x dict-gcide_*.deb x)
  zcat "$WORK"/x/usr/share/dictd/gcide.dict.dz > "$WORK/gcide.raw"
fi
if [ ! -f "$WORK/wordnet.raw" ]; then
  (cd "$WORK" && apt-get download wordnet-base >/dev/null && dpkg-deb -x wordnet-base_*.deb x)
  # data.* lines: synset fields, then "| gloss; \"example\"; ..."; license header lines start with two spaces
  cat "$WORK"/x/usr/share/wordnet/data.noun "$WORK"/x/usr/share/wordnet/data.verb \
      "$WORK"/x/usr/share/wordnet/data.adj "$WORK"/x/usr/share/wordnet/data.adv \
    | grep -v '^  ' | sed 's/^[^|]*| //' > "$WORK/wordnet.raw"
fi
python3 - "$WORK/gcide.raw" "$WORK/wordnet.raw" "$OUT" <<'PY'
import re, sys
src, wn, out = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(src, encoding="utf-8", errors="replace").read()
text = re.sub(r"\[(?:1913 Webster|Webster 1913 Suppl\.|PJC|Century Dict\.|WordNet 1\.5|RN|Chambers 1728)[^\]]*\]", " ", text)
text = re.sub(r"\\[^\\\n]{0,80}\\", " ", text)            # pronunciation \Ab"so*lute\
text = re.sub(r"--[A-Z][\w.&' ]{0,40}?\.", " ", text)      # quotation authors --Davies & Peck.
text = text.replace("{", " ").replace("}", " ")
word = re.compile(r"[a-z]+(?:'[a-z]+)?")
n_tok = n_sent = 0
glosses = open(wn, encoding="utf-8", errors="replace").read().replace("\n", "\n\n")
with open(out + ".tmp", "w", encoding="utf-8") as f:
    for para in re.split(r"\n\s*\n", text + "\n\n" + glosses):
        for sent in re.split(r"[.;:?!()]+", para.lower()):
            toks = word.findall(sent)
            if len(toks) >= 3:
                f.write(" ".join(toks) + "\n")
                n_tok += len(toks)
                n_sent += 1
import os
os.replace(out + ".tmp", out)
print(f"{out}: {n_sent} sentences, {n_tok} tokens")
PY
