"""Reading plan files: encodings detected by charset-normalizer, PDFs through pypdf (real PDFs)."""

from __future__ import annotations

import pytest

from assistant.errors import BrokenPdfError, EncryptedPdfError, ImageOnlyPdfError, UndecodableTextError
from assistant.ingest.files import read_plan_file
from tests.conftest import SMALL_PLAN, make_pdf


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gbk", "gb18030"])
def test_text_in_common_chinese_encodings(tmp_path, encoding):
    path = tmp_path / f"plan-{encoding}.txt"
    path.write_bytes(SMALL_PLAN.encode(encoding))
    assert read_plan_file(path) == SMALL_PLAN


def test_windows_newlines_are_normalised(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(SMALL_PLAN.replace("\n", "\r\n").encode("gbk"))
    assert read_plan_file(path) == SMALL_PLAN


def test_undecodable_file_names_the_file(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UndecodableTextError) as err:
        read_plan_file(path)
    assert "binary.txt" in str(err.value)


def test_pdf_lines_rejoined_without_spaces_and_running_lines_removed(tmp_path):
    pages = [
        [
            "第一章 发展基础",
            "全省河湖水质持续改善，地表水优良比例达到",
            "95%，湖泊治理取得明显成效，生态环境质量",
            "稳步提升。",
        ],
        ["第二章 主要任务", "划定饮用水水源保护区，实施水源地规范化建", "设，到2025年县级水源地达标率达到100%。"],
        ["第三章 保障措施", "加强组织领导，健全考核机制，确保规划目标", "任务全面完成。"],
    ]
    path = make_pdf(tmp_path / "plan.pdf", pages, header="示范省人民政府公报", footer_numbers=True)
    text = read_plan_file(path)
    assert "公报" not in text, "the running header must be removed"
    assert "- 2 -" not in text and "\n2\n" not in text, "page numbers must be removed"
    assert "地表水优良比例达到95%，湖泊治理取得明显成效，生态环境质量稳步提升。" in text
    assert "水源地规范化建设，到2025年" in text
    assert text.splitlines()[0] == "第一章 发展基础"


def test_pdf_english_hyphenation_is_joined(tmp_path):
    pages = [["The plan protects the Three-River Source and promotes eco-", "logical industries across the province."]]
    text = read_plan_file(make_pdf(tmp_path / "en.pdf", pages))
    assert "promotes ecological industries" in text


def test_encrypted_pdf(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "plain.pdf", [["第一章 发展基础", "内容。"]])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(EncryptedPdfError, match="encrypted"):
        read_plan_file(locked)


def test_image_only_pdf(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(ImageOnlyPdfError, match="no text layer"):
        read_plan_file(path)


def test_truncated_pdf(tmp_path):
    whole = make_pdf(tmp_path / "whole.pdf", [["第一章 发展基础", "内容。"]] * 3).read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(BrokenPdfError, match="damaged or truncated"):
        read_plan_file(cut)
