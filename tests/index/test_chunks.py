import pytest

from index.chunks import chunk_document, windows
from index.types import Document, Sentence


@pytest.mark.parametrize("n,size,overlap,expected", [
    (0, 3, 1, []),
    (1, 3, 1, [[0]]),
    (3, 3, 1, [[0, 1, 2]]),
    (4, 3, 1, [[0, 1, 2], [2, 3]]),
    (5, 2, 0, [[0, 1], [2, 3], [4]]),
    (6, 3, 2, [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]),
])
def test_windows(n, size, overlap, expected):
    assert [list(w) for w in windows(n, size, overlap)] == expected


def test_windows_rejects_bad_settings():
    with pytest.raises(ValueError):
        windows(3, 2, 2)


def test_chunks_stay_inside_paragraphs_and_keep_offsets():
    text = "A satu. A dua. A tiga.\nB satu."
    spans = [(0, 7, 0), (8, 14, 0), (15, 22, 0), (23, 30, 1)]
    sents = [Sentence("d", i, a, b, text[a:b], p) for i, (a, b, p) in enumerate(spans)]
    chunks = chunk_document(Document("d", "d", text, "x"), sents, size=2, overlap=1)
    assert [c.sentences for c in chunks] == [(0, 1), (1, 2), (3,)]
    for c in chunks:
        assert text[c.start : c.end] == c.text
