#!/usr/bin/python3
"""Writes SQL that seeds N documents of one tenant into kumo_documents, in
multi-row INSERTs (documents, document_versions, document_tags and the
tenant's counter): realistic titles, descriptions, tags and extracted text
drawn from a Zipf-distributed vocabulary, so FULLTEXT has work to do.

Usage: seed.py --tenant TID --owner UID [--count 100000] [--seed 1] > seed.sql
Prints to stderr one JSON line: {"sample_id", "common_tag", "query_word", ...}
naming values the benchmark's requests use.
"""
import argparse
import datetime
import hashlib
import json
import random
import sys

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
WORDS = """policy procedure security access control review annual quarterly budget
finance report audit compliance privacy data retention incident response vendor contract
agreement renewal invoice payment travel expense reimbursement onboarding offboarding
employee handbook benefits leave holiday training safety health emergency evacuation plan
network firewall password rotation backup restore disaster recovery continuity risk
assessment register approval signature customer support escalation service level
objective roadmap product release notes architecture design decision record meeting
minutes board committee strategy marketing campaign brand guideline press statement
legal notice trademark license open source inventory asset laptop mobile device remote
work office facility parking cafeteria sustainability carbon emission energy supplier
code conduct ethics whistleblower harassment diversity inclusion recruitment interview
salary bonus promotion performance goal feedback engineering quality testing deployment
incident postmortem outage monitoring alerting capacity forecast revenue margin tax
payroll pension insurance claim warranty shipping logistics warehouse procurement tender
proposal statement work milestone deliverable acceptance criteria template checklist
guide manual tutorial faq glossary overview summary draft final approved archived
migration database storage cloud kubernetes cluster upgrade maintenance window change
request ticket workflow automation integration api documentation specification""".split()
TAGS = ("policy finance hr legal security it engineering sales marketing ops compliance "
        "privacy board contracts invoices travel safety product support facilities "
        "procurement training quality audit risk brand tax payroll archive draft").split()
TYPES = [("application/pdf", ".pdf", 40), ("text/plain", ".txt", 15), ("text/markdown", ".md", 10),
         ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", 20),
         ("image/png", ".png", 10), ("application/zip", ".zip", 5)]


def pseudo_words(rng, n):
    syl = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "po", "se", "da", "fu", "ge", "hi",
           "jo", "qu", "ri", "sa", "te", "wu", "xe", "yo", "bra", "dri", "gle", "mor", "tan"]
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(syl) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def esc(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--owner", required=True)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seq-base", type=int, default=0,
                    help="documents.seq of the first row minus 1 (MAX(seq) so far)")
    ap.add_argument("--tag-order", action="store_true",
                    help="document_tags has create_time and seq (migration 3): fill them")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    vocab = WORDS + pseudo_words(rng, 3000)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(vocab))]
    cum = []
    acc = 0.0
    for wgt in weights:
        acc += wgt
        cum.append(acc)
    tag_w = [1.0 / (i + 1) for i in range(len(TAGS))]
    type_w = [t[2] for t in TYPES]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    year = now.year

    def words(k):
        return " ".join(rng.choices(vocab, cum_weights=cum, k=k))
    out = sys.stdout
    out.write("SET unique_checks=0; SET foreign_key_checks=0; SET autocommit=0;\n")
    sample_id = None
    docs, vers, tags = [], [], []

    def flush():
        if docs:
            out.write("INSERT INTO documents (seq, id, tenant_id, number, title, description, file_name,"
                      " content_type, size, sha256, tags_text, metadata, status,"
                      " status_before_delete, current_version, owner_id, version, create_time,"
                      " update_time, archive_time, delete_time, purge_time, restore_state,"
                      " detected_content_type, extraction_state, extracted_text) VALUES\n")
            out.write(",\n".join(docs))
            out.write(";\n")
        if vers:
            out.write("INSERT INTO document_versions (tenant_id, document_id, version, status,"
                      " file_name, content_type, size, sha256, detected_content_type, creator_id,"
                      " object_key, upload_method, create_time, complete_time) VALUES\n")
            out.write(",\n".join(vers))
            out.write(";\n")
        if tags:
            out.write("INSERT INTO document_tags (tenant_id, document_id, tag%s) VALUES\n" % (
                ", create_time, seq" if a.tag_order else ""))
            out.write(",\n".join(tags))
            out.write(";\nCOMMIT;\n")
        docs.clear()
        vers.clear()
        tags.clear()

    for i in range(1, a.count + 1):
        did = "doc_" + "".join(rng.choice(BASE32) for _ in range(20))
        if sample_id is None and i == a.count // 2:
            sample_id = did
        ctype, ext, _ = rng.choices(TYPES, weights=type_w)[0]
        title = words(rng.randint(3, 8)).capitalize()
        fname = title.lower().replace(" ", "-")[:60] + ext
        desc = words(rng.randint(8, 30))
        dtags = sorted(set(rng.choices(TAGS, weights=tag_w, k=rng.randint(1, 4))))
        r = rng.random()
        status = 2 if r < 0.85 else 3 if r < 0.90 else 1 if r < 0.95 else 4
        created = now - datetime.timedelta(seconds=rng.randint(60, 365 * 86400))
        updated = created + datetime.timedelta(seconds=rng.randint(0, 86400 * 30))
        if updated > now:
            updated = now
        size = rng.randint(200, 5 * 1024 * 1024) if status != 1 else 0
        sha = hashlib.sha256(did.encode()).hexdigest()
        textlike = ctype.startswith("text/") or ctype in ("application/pdf",) or \
            ctype.endswith("document")
        text = words(rng.randint(30, 120)) if status != 1 and textlike else None
        ts = lambda t: "'" + t.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"  # noqa: E731
        row = "(%d,%s,%s,%s,%s,%s,%s,%s,%d,%s,%s,%s,%d,%s,%d,%s,1,%s,%s,%s,%s,%s,%d,%s,%d,%s)"
        docs.append(row % (
            a.seq_base + i, esc(did), esc(a.tenant), esc("DOC-%d-%06d" % (year, i)), esc(title), esc(desc),
            esc(fname), esc(ctype), size, "NULL" if status == 1 else "UNHEX('%s')" % sha,
            esc(" ".join(dtags)), esc(json.dumps({"source": "seed", "n": i})), status,
            "2" if status == 4 else "NULL", 0 if status == 1 else 1, esc(a.owner),
            ts(created), ts(updated), ts(updated) if status == 3 else "NULL",
            ts(updated) if status == 4 else "NULL",
            ts(updated + datetime.timedelta(days=30)) if status == 4 else "NULL",
            1 if status == 3 else 0, esc(ctype if status != 1 else ""),
            0 if status == 1 else 2, "NULL" if text is None else esc(text)))
        vers.append("(%s,%s,1,%d,%s,%s,%d,%s,%s,%s,%s,1,%s,%s)" % (
            esc(a.tenant), esc(did), 1 if status == 1 else 2, esc(fname), esc(ctype), size,
            "NULL" if status == 1 else "UNHEX('%s')" % sha, esc(ctype if status != 1 else ""),
            esc(a.owner), esc("t/%s/d/%s/v1" % (a.tenant, did)), ts(created),
            "NULL" if status == 1 else ts(created)))
        for t in dtags:
            if a.tag_order:
                tags.append("(%s,%s,%s,%s,%d)" % (esc(a.tenant), esc(did), esc(t), ts(created),
                                                 a.seq_base + i))
            else:
                tags.append("(%s,%s,%s)" % (esc(a.tenant), esc(did), esc(t)))
        if len(docs) >= a.batch:
            flush()
    flush()
    out.write("INSERT INTO document_counters (tenant_id, year, last_number) VALUES (%s, %d, %d) "
              "ON DUPLICATE KEY UPDATE last_number = GREATEST(last_number, VALUES(last_number));\n"
              "COMMIT;\n" % (esc(a.tenant), year, a.count))
    # A frequent word (rank ~40 of the vocabulary: ~20% of the documents)
    # and a rarer one (rank ~1000, a few % of the documents).
    info = {"sample_id": sample_id, "common_tag": TAGS[2], "query_word": vocab[40],
            "rare_word": vocab[1000], "count": a.count}
    print(json.dumps(info), file=sys.stderr)


if __name__ == "__main__":
    main()
