import pytest

from assistant.text import parse_numeral, to_chinese_numeral


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
