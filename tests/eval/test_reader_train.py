"""Training data for the reader, and one tiny real training run exported and loaded as the server would."""
import json
import random

import numpy as np
import pytest

from eval.datasets import SHARED
from eval.reader_data import build_pairs, question_pairs
from index.sentences import split_sentences

TRAIN = SHARED.parent / "train-data"
PASSAGE = ("Douwes Dekker lahir di Pasuruan pada 8 Oktober 1879. Ayahnya seorang agen bank. "
           "Ia belajar di Batavia. Kemudian ia menjadi wartawan.")


def test_answerable_question_gets_its_sentence_and_hard_negatives():
    q = {"id": "q1", "lang": "id", "question": "Di mana Douwes Dekker lahir?", "answers": ["Pasuruan"],
         "answer_starts": [PASSAGE.index("Pasuruan")]}
    pairs = question_pairs(q, "Douwes Dekker", split_sentences(PASSAGE), random.Random(0))
    assert [p.label for p in pairs] == [1, 0, 0]
    assert pairs[0].text == "Douwes Dekker. Douwes Dekker lahir di Pasuruan pada 8 Oktober 1879."
    assert all("Pasuruan" not in p.text for p in pairs[1:])
    assert pairs[1].text.endswith("Ayahnya seorang agen bank.")  # the neighbour comes first


def test_unanswerable_question_gives_only_negatives():
    q = {"id": "q2", "lang": "id", "question": "Di mana Douwes Dekker meninggal?", "answers": [], "answer_starts": []}
    pairs = question_pairs(q, "", split_sentences(PASSAGE), random.Random(0))
    assert len(pairs) == 3 and {p.label for p in pairs} == {0}
    assert pairs[0].text.startswith("Douwes Dekker lahir")  # most shared words first


def test_evaluation_sets_are_refused():
    with pytest.raises(ValueError, match="evaluation set"):
        build_pairs(SHARED / "idk-mrc-dev")


def test_train_sets_give_seeded_pairs():
    a = build_pairs(TRAIN / "idk-mrc-train", seed=3, limit=40)
    b = build_pairs(TRAIN / "idk-mrc-train", seed=3, limit=40)
    assert a == b and len({p.group for p in a}) == 40
    assert 0 < sum(p.label for p in a) < len(a)


@pytest.mark.slow
def test_a_tiny_training_run_ships_a_model_the_engine_runs_as_trained(tmp_path):
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer

    from eval.reader_net import build, load_shipped, main as train
    from eval.reader_pack import base_tensors, main as pack
    from index.embedders.export import checked_tokenizer
    from qa.reader import Reader, engine_pair_text

    pack_dir, run = tmp_path / "pack", tmp_path / "run"
    pack(["--out", str(pack_dir), "--sets", "idk-mrc-train:12", "tydiqa-en-train:4", "--val", "0.25"])
    train(["--pack", str(pack_dir), "--out", str(run), "--layers", "2", "--batch", "8", "--epochs", "1",
           "--qat-epochs", "1"])
    report = json.loads((run / "report.json").read_text())
    assert report["history"] and "validation_q4" in report and "validation" in (run / "train.log").read_text()
    reader = Reader(run)  # reader.json written beside the weights, sha256 checked
    assert reader.layers == 2
    question = "Kapan PBB terbentuk?"
    texts = ["PBB terbentuk pada 24 Oktober 1945.", "Kucing suka tidur.", "The UN was founded in 1945."]
    got = reader.logits(question, texts)
    # the same weights in the torch network the training used (4-bit layers, float activations)
    tok = Tokenizer.from_file(str(checked_tokenizer()))
    ids = [tok.encode("query: " + engine_pair_text(question, t)).ids for t in texts]
    base = base_tensors(np.unique(np.concatenate([np.array(x) for x in ids])))
    rows_of = {int(w): i for i, w in enumerate(base["word_ids"])}
    model = build(base, 2)
    load_shipped(model, dict(np.load(run / "reader-q4.npz")))
    model.eval()
    with torch.no_grad():
        want = [float(model(torch.tensor([[rows_of[i] for i in x]]), torch.ones(1, len(x), dtype=torch.bool))) for x in ids]
    assert np.abs(got - np.array(want)).max() < 0.1  # the engine quantizes activations to int8: close, not equal


@pytest.mark.slow
def test_a_time_limited_run_stops_validates_and_still_ships(tmp_path):
    """`--minutes` (what `make reader` uses on a CPU): the run stops early, validates there, writes the model."""
    pytest.importorskip("torch")
    from eval.reader_net import main as train
    from eval.reader_pack import main as pack
    from qa.reader import Reader

    pack_dir, run = tmp_path / "pack", tmp_path / "run"
    pack(["--out", str(pack_dir), "--sets", "idk-mrc-train:12", "tydiqa-en-train:4", "--val", "0.25"])
    train(["--pack", str(pack_dir), "--out", str(run), "--layers", "1", "--batch", "4", "--epochs", "2",
           "--qat-epochs", "2", "--minutes", "0.00001"])
    report = json.loads((run / "report.json").read_text())
    assert [h["step"] for h in report["history"]] == [1]  # stopped after its first step, validated there
    assert "stopped at step 1" in (run / "train.log").read_text()
    assert Reader(run).layers == 1


def test_init_starts_from_a_trained_readers_weights(tmp_path):
    """`--init FOLDER` fine-tunes that reader: at lr 0 the shipped layers come back unchanged."""
    pytest.importorskip("torch")
    import numpy as np

    from eval.reader_net import main as train
    from eval.reader_pack import main as pack

    pack_dir, first, again = tmp_path / "pack", tmp_path / "first", tmp_path / "again"
    pack(["--out", str(pack_dir), "--sets", "idk-mrc-train:12", "--val", "0.25"])
    common = ["--pack", str(pack_dir), "--layers", "1", "--batch", "4", "--epochs", "1", "--qat-epochs", "1"]
    train([*common, "--out", str(first), "--lr", "1e-3"])
    train([*common, "--out", str(again), "--lr", "0", "--init", str(first)])
    before, after = np.load(first / "reader-q4.npz"), np.load(again / "reader-q4.npz")
    assert np.array_equal(before["l0.q.w"], after["l0.q.w"]) and np.array_equal(before["head.w"], after["head.w"])
