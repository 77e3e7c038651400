"""Real PDF, Word and HTML files made by the tests (reportlab and python-docx write them)."""
from __future__ import annotations

from pathlib import Path

TITLE_PDF = "Laporan Pabrik Baterai Batang"
PDF_PAGES = [  # page -> paragraphs; accents on purpose (the text layer must keep them)
    ["Pemerintah meresmikan pabrik baterai kendaraan listrik di Kawasan Industri Terpadu Batang, "
     "Jawa Tengah. Kapasitas produksinya mencapai sepuluh gigawatt-jam per tahun dan pabrik itu "
     "dikelola oleh konsorsium yang dipimpin André Wijaya.",
     "Investasi tahap pertama bernilai Rp 15 triliun. Sekitar 2.500 tenaga kerja lokal diserap "
     "selama masa konstruksi yang berlangsung delapan belas bulan.",
     # enough text to fill the first column, so the page is laid out in two
     *[f"Tahap pembangunan ke-{i} selesai dalam {i + 2} bulan dan melibatkan {i * 10} pekerja dari "
       f"desa-desa di sekitar kawasan. Laporan tahap ke-{i} mencatat kemajuan sesuai rencana kerja." for i in range(1, 15)]],
    ["Nikel untuk katoda dipasok dari smelter di Morowali, Sulawesi Tengah. Kafé pekerja di kompleks "
     "itu dikelola koperasi warga setempat sejak pabrik dibuka.",
     "Pabrik kedua direncanakan mulai dibangun pada tahun 2026 di Karawang dengan kapasitas dua kali "
     "lipat dari pabrik pertama di Batang."],
]


def make_pdf(path: Path, pages: list[list[str]] = PDF_PAGES, title: str | None = TITLE_PDF,
             columns: int = 2) -> Path:
    """A PDF laid out in `columns` columns, one list of paragraphs per page, `title` in its metadata."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate, Paragraph

    width, height = A4
    margin, gap = 50, 20
    col = (width - 2 * margin - gap * (columns - 1)) / columns
    frames = [Frame(margin + i * (col + gap), margin, col, height - 2 * margin, id=f"c{i}") for i in range(columns)]
    doc = BaseDocTemplate(str(path), pagesize=A4, title=title or "", pageTemplates=[PageTemplate(frames=frames)])
    style = getSampleStyleSheet()["BodyText"]
    story = []
    for n, paragraphs in enumerate(pages):
        if n:
            story.append(PageBreak())
        story.extend(Paragraph(p, style) for p in paragraphs)
    doc.build(story)
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose page holds only a drawing, no text layer (what a scanner writes)."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return path


def make_encrypted_pdf(path: Path) -> Path:
    """A PDF that opens only with a password."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("rahasia", canPrint=0))
    c.drawString(100, 700, "Dokumen rahasia tentang anggaran.")
    c.showPage()
    c.save()
    return path


DOCX_TITLE = "Profil Koperasi Nelayan Sindang"
DOCX_PARAGRAPHS = [
    "Koperasi Nelayan Sindang berdiri pada tahun 1998 di Kabupaten Indramayu. Anggotanya kini berjumlah 412 orang.",
    "Ketua koperasi saat ini adalah Ibu Ratna Suminar, yang terpilih kembali pada rapat anggota tahun 2024.",
]


def make_docx(path: Path) -> Path:
    """A Word file with a Title paragraph, a heading, body paragraphs and a table."""
    import docx

    document = docx.Document()
    document.add_heading(DOCX_TITLE, level=0)
    document.add_paragraph(DOCX_PARAGRAPHS[0])
    document.add_heading("Kepengurusan", level=1)
    document.add_paragraph(DOCX_PARAGRAPHS[1])
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Jabatan", "Nama"), ("Bendahara", "Pak Darto")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.save(str(path))
    return path


HTML_TITLE = "Festival Layang-Layang Pangandaran Dibuka"
HTML_PAGE = f"""<!DOCTYPE html>
<html lang="id"><head><meta charset="utf-8"><title>{HTML_TITLE} | Kabar Pesisir</title>
<script>window.track = function () {{ return "jangan diindeks"; }};</script></head>
<body>
<div class="cookie-banner">Situs ini memakai kuki. <a href="#">Setuju</a></div>
<div class="menu"><ul><li><a href="/">Beranda</a></li><li><a href="/wisata">Wisata</a></li></ul></div>
<div class="content">
<h1>{HTML_TITLE}</h1>
<p>Festival layang-layang internasional di Pantai Pangandaran dibuka pada hari Sabtu. Peserta datang dari dua belas negara.</p>
<p>Layang-layang terbesar tahun ini berukuran dua puluh meter dan dibuat oleh tim dari Bali.</p>
</div>
<div class="sidebar"><h3>Terpopuler</h3><ul><li><a href="/a">Harga cabai naik lagi</a></li></ul></div>
<div class="foot">© 2025 Kabar Pesisir. Hak cipta dilindungi.</div>
</body></html>"""


def make_html(path: Path) -> Path:
    """A news page laid out with plain <div>s: menu, cookie banner, sidebar and footer around the article."""
    path.write_text(HTML_PAGE, encoding="utf-8")
    return path
