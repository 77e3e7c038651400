"""QA_STORE=postgres: `qa index` writes the build into a throwaway PostgreSQL + pgvector, answers match FAISS.

The server comes from tests/postgres_server.py (skipped, with the reason, where none can start).
"""
import dataclasses
import shutil

import numpy as np
import pytest
from pydantic import SecretStr

from qa.engine import Engine, config_from_settings
from qa.indexing import index_documents
from qa.pipeline import answer
from postgres_server import fresh_database

QUESTIONS = [
    "Who is the UNIDO representative for Indonesia?",
    "Berapa poin strategi implementasi industri 4.0 dalam Bali Agenda?",
    "Apa itu Making Indonesia 4.0?",
    "Siapa yang menandatangani kerja sama dengan UNIDO?",
    "Berapa harga tiket pesawat ke Paris?",  # nothing in the corpus: both should abstain
]


@pytest.fixture(scope="module")
def own_settings(reference_settings, postgres_dsn, embedder, tmp_path_factory):
    """Like the session's pg_settings, in a database of its own: these tests write new builds."""
    index_dir = tmp_path_factory.mktemp("pg-index")
    shutil.copytree(reference_settings.index_dir, index_dir, dirs_exist_ok=True)
    settings = reference_settings.model_copy(update={
        "index_dir": index_dir, "store": "postgres",
        "database_url": SecretStr(fresh_database(postgres_dsn, "store_tests"))})
    index_documents(settings, None, embedder=embedder, show_progress=False)
    return settings


@pytest.fixture(scope="module")
def own_engine(own_settings, embedder):
    engine = Engine(embedder, config_from_settings(own_settings), database_url=own_settings.database_dsn())
    engine.load(own_settings.index_dir)
    return engine


def cited(ans):
    return ans.abstained, [(c.doc_id, c.sentence_index, c.start, c.end) for c in ans.citations]


def test_answers_cite_the_same_sentences_as_faiss(engine, own_engine):
    from index.pgstore import PgStore

    assert isinstance(own_engine.store, PgStore) and own_engine.build_name.startswith("qa_build_")
    assert engine.build_name == engine.build.name  # FAISS: the build directory
    for question in QUESTIONS:
        faiss_answer, pg_answer = answer(question, engine), answer(question, own_engine)
        assert cited(pg_answer) == cited(faiss_answer), question
        assert pg_answer.answer == faiss_answer.answer
    assert cited(answer(QUESTIONS[0], own_engine))[1], "a question the corpus answers got no citation"


def test_a_new_build_is_picked_up_and_the_old_one_keeps_answering(own_settings, own_engine, embedder):
    from index import pgstore

    old_store, old_build = own_engine.store, own_engine.build
    assert not own_engine.reload_if_changed(own_settings.index_dir)
    index_documents(own_settings, None, embedder=embedder, show_progress=False)
    assert pgstore.current_build(own_settings.database_dsn()) != old_build
    assert answer(QUESTIONS[0], own_engine).citations  # still the old store, still answering
    assert own_engine.reload_if_changed(own_settings.index_dir)
    assert own_engine.store is not old_store and own_engine.build != old_build
    old_engine = old_store_engine(own_engine, old_store)
    assert cited(answer(QUESTIONS[0], own_engine)) == cited(answer(QUESTIONS[0], old_engine))


def old_store_engine(engine, store):
    """An engine over `store` (the build before the last), to check it still answers after a new one."""
    return Engine(engine.embedder, engine.config, store=store)


def test_a_failed_build_leaves_the_live_one_and_no_schema(own_settings, own_engine):
    from index import pgstore
    from index.errors import StoreError
    from index.store import load

    dsn = own_settings.database_dsn()
    live, schemas = pgstore.current_build(dsn), _schemas(dsn)
    store = load(own_settings.index_dir)
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


def test_page_offsets_of_a_document_survive_the_database(own_settings):
    from index import pgstore
    from index.store import load

    dsn = own_settings.database_dsn()
    store = load(own_settings.index_dir)
    first = store.documents[0]
    paged = dataclasses.replace(first, pages=(0, len(first.text) // 2))
    pgstore.from_index_store(dataclasses.replace(store, documents=[paged, *store.documents[1:]]), dsn)
    back = pgstore.load(dsn)
    assert back.document(first.doc_id).pages == paged.pages and back.documents[1:] == store.documents[1:]
    assert back.document(first.doc_id).page_at(len(first.text) - 1) == 2
