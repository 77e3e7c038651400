"""QA_STORE=postgres: `qa index` writes the build into a throwaway PostgreSQL + pgvector, answers match FAISS.

The server comes from tests/postgres_server.py (skipped, with the reason, where none can start).
"""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from qa.engine import Engine
from qa.indexing import index_documents
from qa.pipeline import answer
from postgres_server import fresh_database, indexed_settings, loaded_engine

QUESTIONS = [
    "Who is the UNIDO representative for Indonesia?",
    "Berapa poin strategi implementasi industri 4.0 dalam Bali Agenda?",
    "Apa itu Making Indonesia 4.0?",
    "Siapa yang menandatangani kerja sama dengan UNIDO?",
    "Berapa harga tiket pesawat ke Paris?",  # nothing in the corpus: both should abstain
]


@pytest.fixture(scope="module")
def own(reference_settings, postgres_dsn, embedder, tmp_path_factory) -> SimpleNamespace:
    """Settings and engine like pg_settings and pg_engine, in a database of their own: these tests write builds."""
    settings = indexed_settings(reference_settings, fresh_database(postgres_dsn, "store_tests"), embedder,
                                tmp_path_factory.mktemp("pg-index"))
    return SimpleNamespace(settings=settings, engine=loaded_engine(settings, embedder))


def cited(ans):
    return ans.abstained, [(c.doc_id, c.sentence_index, c.start, c.end) for c in ans.citations]


def test_answers_cite_the_same_sentences_as_faiss(engine, own):
    from index.pgstore import PgStore

    assert isinstance(own.engine.store, PgStore) and own.engine.build_name.startswith("qa_build_")
    assert engine.build_name == engine.build.name  # FAISS: the build directory
    for question in QUESTIONS:
        faiss_answer, pg_answer = answer(question, engine), answer(question, own.engine)
        assert cited(pg_answer) == cited(faiss_answer), question
        assert pg_answer.answer == faiss_answer.answer
    assert cited(answer(QUESTIONS[0], own.engine))[1], "a question the corpus answers got no citation"


def test_a_new_build_is_picked_up_and_the_old_one_keeps_answering(own, embedder):
    from index import pgstore

    old_store, old_build = own.engine.store, own.engine.build
    assert not own.engine.reload_if_changed(own.settings.index_dir)
    index_documents(own.settings, None, embedder=embedder, show_progress=False)
    assert pgstore.current_build(own.settings.database_dsn()) != old_build
    assert answer(QUESTIONS[0], own.engine).citations  # still the old store, still answering
    assert own.engine.reload_if_changed(own.settings.index_dir)
    assert own.engine.store is not old_store and own.engine.build != old_build
    old_engine = old_store_engine(own.engine, old_store)
    assert cited(answer(QUESTIONS[0], own.engine)) == cited(answer(QUESTIONS[0], old_engine))


def old_store_engine(engine, store):
    """An engine over `store` (the build before the last), to check it still answers after a new one."""
    return Engine(engine.embedder, engine.config, store=store)


def test_a_failed_build_leaves_the_live_one_and_no_schema(own):
    from index import pgstore
    from index.errors import StoreError
    from index.store import load

    dsn = own.settings.database_dsn()
    live, schemas = pgstore.current_build(dsn), _schemas(dsn)
    store = load(own.settings.index_dir)
    broken = dataclasses.replace(store, chunk_vectors=np.zeros((len(store.chunks), 7), np.float32))
    with pytest.raises(StoreError, match="live build is unchanged.*dimensions"):
        pgstore.from_index_store(broken, dsn)
    assert pgstore.current_build(dsn) == live and _schemas(dsn) == schemas


def _schemas(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qa_build_%' "
                                           "ORDER BY 1")]


def test_postgres_needs_a_database_url():
    from pydantic import ValidationError

    from qa.settings import Settings

    with pytest.raises(ValidationError, match="QA_DATABASE_URL"):
        Settings(store="postgres", _env_file=None)


def test_a_read_url_is_for_postgres_and_defaults_to_the_database_url():
    from pydantic import ValidationError

    from qa.settings import Settings

    with pytest.raises(ValidationError, match="QA_DATABASE_READ_URL is for QA_STORE=postgres"):
        Settings(database_read_url="postgresql://replica/qa", _env_file=None)
    both = Settings(store="postgres", database_url="postgresql://primary/qa", _env_file=None)
    assert both.database_read_dsn() == both.database_dsn() == "postgresql://primary/qa"
    split = both.model_copy(update={"database_read_url": Settings(store="postgres", database_url="postgresql://replica/qa",
                                                                  _env_file=None).database_url})
    assert (split.database_dsn(), split.database_read_dsn()) == ("postgresql://primary/qa", "postgresql://replica/qa")


def test_an_empty_or_unreachable_database_says_how_to_fix_it(postgres_dsn, embedder):
    import psycopg

    from index import pgstore
    from index.errors import StoreError

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE empty")
    with pytest.raises(StoreError, match="no index in the database; run `qa index`"):
        pgstore.load(postgres_dsn.rsplit("/", 1)[0] + "/empty")
    with pytest.raises(StoreError, match="can't connect to PostgreSQL.*QA_DATABASE_URL"):
        pgstore.load("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2")
    assert pgstore.current_build("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2") is None


def test_a_build_a_server_still_answers_from_is_not_dropped(own, embedder):
    from index import pgstore

    dsn = own.settings.database_dsn()
    held = pgstore.load(dsn)  # a server that has not polled since: two newer builds would drop it (keep=2)
    assert own.engine.build == held.schema  # so is own.engine: it moves on below too
    for _ in range(2):
        index_documents(own.settings, None, embedder=embedder, show_progress=False)
    assert held.schema in _schemas(dsn)
    assert answer(QUESTIONS[0], old_store_engine(own.engine, held)).citations
    held.close()  # the servers move on: the next build drops it
    assert own.engine.reload_if_changed(own.settings.index_dir)
    index_documents(own.settings, None, embedder=embedder, show_progress=False)
    assert held.schema not in _schemas(dsn)


def test_page_offsets_of_a_document_survive_the_database(own):
    from index import pgstore
    from index.store import load

    dsn = own.settings.database_dsn()
    store = load(own.settings.index_dir)
    first = store.documents[0]
    paged = dataclasses.replace(first, pages=(0, len(first.text) // 2))
    pgstore.from_index_store(dataclasses.replace(store, documents=[paged, *store.documents[1:]]), dsn)
    back = pgstore.load(dsn)
    assert back.document(first.doc_id).pages == paged.pages and back.documents[1:] == store.documents[1:]
    assert back.document(first.doc_id).page_at(len(first.text) - 1) == 2


def test_a_build_that_cannot_be_read_is_a_store_error_not_a_crash(own):
    """A database error while reading a build (here: its meta table gone) says so, instead of killing `qa serve`."""
    import psycopg

    from index import pgstore
    from index.errors import StoreError

    dsn = own.settings.database_dsn()
    build = pgstore.current_build(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {build}.meta RENAME TO meta_gone")
    try:
        with pytest.raises(StoreError, match="reading the index from PostgreSQL failed.*meta"):
            pgstore.load(dsn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {build}.meta_gone RENAME TO meta")


def _same_large_values(back, store) -> bool:
    return (np.array_equal(back.vocab_vectors, store.vocab_vectors)
            and (back.chunk_sparse != store.chunk_sparse).nnz == 0
            and (back.sentence_sparse != store.sentence_sparse).nnz == 0)


def test_large_values_are_stored_in_parts_and_read_back_whole(own, monkeypatch):
    """The latent-term matrices and vocabulary vectors go in parts (one bytea holds at most 1 GB)."""
    import psycopg

    from index import pgblobs, pgstore
    from index.store import load

    dsn = own.settings.database_dsn()
    store = load(own.settings.index_dir)
    monkeypatch.setattr(pgblobs, "PART_BYTES", 4096)  # a few kB a part, so this small index takes many
    build = pgstore.from_index_store(store, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        parts = dict(conn.execute(f"SELECT name, count(*) FROM {build}.blobs GROUP BY name").fetchall())
    assert parts["chunk_sparse"] > 1 and parts["sentence_sparse"] > 1 and parts["vocab_vectors"] > 1
    assert _same_large_values(pgstore.load(dsn), store)


def test_a_build_written_before_parts_still_loads(own):
    """Builds written with the large values as columns of `meta` (before index/pgblobs.py) load as before."""
    import psycopg

    from index import pgstore
    from index.store import load

    dsn = own.settings.database_dsn()
    store = load(own.settings.index_dir)
    build = pgstore.from_index_store(store, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:  # rewrite it in the old layout
        for blob in pgstore.BLOBS:
            conn.execute(f"ALTER TABLE {build}.meta ADD COLUMN {blob} bytea")
            conn.execute(f"UPDATE {build}.meta SET {blob} = (SELECT string_agg(data, '' ORDER BY part) "
                         f"FROM {build}.blobs WHERE name = %s)", (blob,))
        conn.execute(f"DROP TABLE {build}.blobs")
    assert _same_large_values(pgstore.load(dsn), store)


LEXICAL_QUERIES = ["tenaga surya", "UNIDO UNIDO Indonesia", "Bali Agenda industri 4.0", "Who signed with UNIDO?",
                   "kata-yang-tidak-ada", "dan yang di"]  # repeats, English, unknown tokens, only stop words


def test_chunk_bm25_is_summed_in_sql_with_the_in_process_scores(own):
    """The build's chunk_terms table gives every chunk the score bm25s gives it; the server builds no chunk BM25."""
    from index import pgstore
    from index.store import load

    store, pg = load(own.settings.index_dir), pgstore.load(own.settings.database_dsn())
    assert pg.terms_in_sql and pg.lexical is None
    for query in LEXICAL_QUERIES:
        assert np.allclose(pg.lexical_scores(query), store.lexical_scores(query), rtol=1e-5, atol=1e-6), query
    assert pg.lexical_scores("Bali Agenda").any() and not pg.lexical_scores("kata-yang-tidak-ada").any()


def test_a_build_written_before_the_term_table_scores_bm25_in_process(own):
    import psycopg

    from index import pgstore
    from index.store import load

    dsn = own.settings.database_dsn()
    store = load(own.settings.index_dir)
    build = pgstore.from_index_store(store, dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {build}.chunk_terms")
    pg = pgstore.load(dsn)
    assert not pg.terms_in_sql and pg.lexical is not None
    for query in LEXICAL_QUERIES:
        assert np.allclose(pg.lexical_scores(query), store.lexical_scores(query), rtol=1e-5, atol=1e-6), query
