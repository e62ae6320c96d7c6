import pytest

from assistant.text import arabic_years, parse_numeral, to_chinese_numeral, zh_tokens


@pytest.mark.parametrize(
    ("text", "value"), [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("九十九", 99), ("13", 13)]
)
def test_parse_numeral(text, value):
    assert parse_numeral(text) == value
    if not text.isdigit():
        assert to_chinese_numeral(value) == text


def test_parse_numeral_rejects_other_text():
    with pytest.raises(ValueError):
        parse_numeral("第一")


def test_years_in_chinese_numerals_are_searched_as_digits():
    assert arabic_years("展望二〇三五年，到二〇三〇年前") == "展望2035年，到2030年前"
    assert arabic_years("一二三四五个项目") == "一二三四五个项目", "only a year: four numerals before 年"
    assert "2035" in zh_tokens("展望二〇三五年，构建现代能源体系")
