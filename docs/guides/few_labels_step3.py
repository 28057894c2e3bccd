"""Step 3 of docs/guides/few-labels.md: the suggested Yoruba sentences labelled (SIB-200's gold labels
stand in for a person's), every other Yoruba training sentence unlabelled, the sources labelled.

    python docs/guides/few_labels_step3.py to-label.jsonl yo-20.csv
"""

import csv
import json
import os
import sys

import mgl

suggested, out = sys.argv[1], sys.argv[2]
with open(suggested, encoding="utf-8") as fh:
    chosen = {json.loads(line)["text"] for line in fh}
languages = ["eng_Latn", "fra_Latn", "zho_Hans", "arb_Arab", "yor_Latn"]
examples = mgl.load_dataset("sib-200", root=os.path.join(os.environ["MGL_DATA"], "sib-200"), languages=languages)
with open(out, "w", newline="", encoding="utf-8") as fh:
    writer = csv.writer(fh)
    writer.writerow(["text", "label", "language", "split"])
    for ex in examples:
        unlabelled = ex.language == "yo" and ex.split == "train" and ex.text not in chosen
        writer.writerow([ex.text, "" if unlabelled else ex.label, ex.language, ex.split])
