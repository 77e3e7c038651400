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
def test_a_tiny_training_run_exports_a_model_the_reader_loads(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import torch

    from eval.reader_export import export
    from eval.reader_train import build_model, main
    from index.embedders.export import export_model
    from qa.reader import Reader

    run, base = tmp_path / "run", export_model(tmp_path / "e5")
    main(["--out", str(run), "--layers", "2", "--frozen-layers", "1", "--max-len", "48", "--batch", "8",
          "--sets", "idk-mrc-train:12", "tydiqa-en-train:4", "--base", str(base)])
    assert "loss" in (run / "train.log").read_text()
    recipe = json.loads((run / "recipe.json").read_text())
    assert recipe["layers"] == 2 and recipe["pairs"] > 16
    out = export(run, tmp_path / "model")
    reader = Reader(out, threads=1)
    question, texts = "Kapan PBB terbentuk?", ["PBB terbentuk pada 24 Oktober 1945.", "Kucing suka tidur."]
    got = reader.logits(question, texts)
    model = build_model(base, 2).eval()
    state = dict(np.load(run / "reader-f32.npz"))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    with torch.no_grad():
        want = []
        for t in texts:
            ids = torch.tensor([reader.tokenizer.encode("query: " + question, "passage: " + t).ids])
            want.append(float(model(ids, torch.ones_like(ids))))
    assert np.abs(got - np.array(want)).max() < 0.5  # int8 weights: close, not equal
