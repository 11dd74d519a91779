#!/usr/bin/python3
"""Writes SQL that seeds N Japanese documents of one tenant into
kumo_documents in multi-row INSERTs (documents and the tenant's counter):
titles, descriptions and extracted text written without spaces, as Japanese
is, from a Zipf-distributed vocabulary (business words, then generated
katakana words for the long tail) joined by particles and punctuation. The
rows carry no n-gram tokens (search_version 0): `kumo-documents migrate`
re-indexes them, as it does documents written before migration 6.

Usage: seed_ja.py --tenant TID --owner UID [--count 33334] [--seed 2]
                  [--seq-base N] [--number-base N] > seed.sql
Prints to stderr one JSON line: {"frequent_word", "rare_word", "count"}.
"""
import argparse
import datetime
import hashlib
import json
import random
import sys

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
WORDS = """規則 従業員 労働条件 服務規律 契約 請求書 見積書 会議 議事録 予算 決算 監査 報告書 手順
安全 衛生 情報 管理 規程 申請 承認 稟議 出張 経費 精算 給与 賞与 人事 評価 採用 研修 教育 品質
保証 顧客 対応 苦情 営業 販売 計画 戦略 製品 開発 設計 仕様 試験 検査 納品 発注 購買 調達 在庫
物流 倉庫 配送 取引 先 支払 入金 税務 法務 知的 財産 特許 商標 著作権 個人 保護 秘密 保持 規約
約款 方針 目標 実績 分析 改善 提案 業務 委託 派遣 勤怠 休暇 育児 介護 退職 就業 福利 厚生 健康
診断 災害 防災 避難 訓練 設備 保守 点検 修理 更新 導入 移行 運用 障害 復旧 バックアップ 認証
権限 アクセス 監視 記録 保存 廃棄 文書 様式 書式 テンプレート 手引き マニュアル 概要 要約 草案
確定 承認済 年次 四半期 月次 週次 本社 支店 営業所 工場 研究所 部門 課 係 担当 責任者 役員
取締役 株主 総会 定款 登記 届出 許可 免許 資格 認定 基準 指針 標準 方式 方法 条件 範囲 期間""".split()
PARTICLES = ["は", "の", "を", "に", "が", "と", "で", "および", "ならびに", "について", "に関する"]
KANA = list("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
            "ガギグゲゴザジズゼゾダデドバビブベボパピプペポ")


def pseudo_words(rng, n):
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(KANA) for _ in range(rng.randint(3, 5))))
    return sorted(out)


def esc(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--owner", required=True)
    ap.add_argument("--count", type=int, default=33334)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seq-base", type=int, default=0)
    ap.add_argument("--number-base", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    vocab = WORDS + pseudo_words(rng, 3000)
    cum, acc = [], 0.0
    for i in range(len(vocab)):
        acc += 1.0 / (i + 1) ** 0.9
        cum.append(acc)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    year = now.year

    def sentence(k):
        ws = rng.choices(vocab, cum_weights=cum, k=k)
        parts = []
        for i, w in enumerate(ws):
            parts.append(w)
            if i + 1 < len(ws):
                parts.append(rng.choice(PARTICLES) if rng.random() < 0.7 else "、")
        return "".join(parts) + "。"

    def text(n_sent, lo, hi):
        return "".join(sentence(rng.randint(lo, hi)) for _ in range(n_sent))
    out = sys.stdout
    out.write("SET unique_checks=0; SET autocommit=0;\n")
    docs = []

    def flush():
        if docs:
            out.write("INSERT INTO documents (seq, id, tenant_id, number, title, description,"
                      " file_name, content_type, size, sha256, tags_text, metadata, status,"
                      " current_version, owner_id, version, create_time, update_time,"
                      " detected_content_type, extraction_state, extracted_text) VALUES\n")
            out.write(",\n".join(docs))
            out.write(";\nCOMMIT;\n")
        docs.clear()
    ts = lambda t: "'" + t.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"  # noqa: E731
    for i in range(1, a.count + 1):
        did = "doc_" + "".join(rng.choice(BASE32) for _ in range(20))
        title = "".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(2, 4)))
        desc = sentence(rng.randint(4, 10))
        body = text(rng.randint(3, 8), 5, 12)
        created = now - datetime.timedelta(seconds=rng.randint(60, 365 * 86400))
        sha = hashlib.sha256(did.encode()).hexdigest()
        docs.append("(%d,%s,%s,%s,%s,%s,%s,'text/plain',%d,UNHEX('%s'),'',%s,2,1,%s,1,%s,%s,"
                    "'text/plain',2,%s)" % (
                        a.seq_base + i, esc(did), esc(a.tenant),
                        esc("DOC-%d-%06d" % (year, a.number_base + i)), esc(title[:300]),
                        esc(desc), esc("文書%d.txt" % i), len(body.encode()), sha,
                        esc(json.dumps({"部署": rng.choice(WORDS[:40])}, ensure_ascii=False)),
                        esc(a.owner), ts(created), ts(created), esc(body)))
        if len(docs) >= a.batch:
            flush()
    flush()
    out.write("INSERT INTO document_counters (tenant_id, year, last_number) VALUES (%s, %d, %d) "
              "ON DUPLICATE KEY UPDATE last_number = GREATEST(last_number, VALUES(last_number));\n"
              "COMMIT;\n" % (esc(a.tenant), year, a.number_base + a.count))
    # A frequent word (rank 3: in most documents' text) and a rare one
    # (a generated word of rank ~1000).
    print(json.dumps({"frequent_word": vocab[2], "rare_word": vocab[1000], "count": a.count},
                     ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
