"""Abstention signals, one function at a time, against the real plans' text (no index needed)."""

from __future__ import annotations

import pytest

from assistant.answer.abstention import (
    Subject,
    judge,
    missing_date,
    missing_figure,
    missing_unit,
    missing_year,
    states_figure,
    unknown_english_names,
    unknown_terms,
)
from assistant.settings import PROJECT_ROOT, Settings

SETTINGS = Settings.load(environ={})
PLANS = "".join(p.read_text(encoding="utf-8") for p in sorted(PROJECT_ROOT.joinpath("corpus").glob("*.txt")))


def unknown(question: str) -> list[str]:
    return unknown_terms(question, PLANS, SETTINGS.min_noun_chars)


def test_names_the_plans_never_use_are_unknown():
    assert unknown("规划对门源县油菜花海旅游开发有哪些具体安排？") == ["油菜花"]
    assert unknown("德令哈市有轨电车项目什么时候开工？")


@pytest.mark.parametrize(
    "question",
    [
        "专栏5里河湟谷地城市群大气污染综合治理工程包括哪些措施？",  # jieba cuts 专栏5|里河|湟|谷地
        "专栏1里的国土绿化巩固提升工程具体包括哪些项目？",  # 哪些项目 asks for a kind of answer
        "名词解释中的“六个百分百”指的是哪六项要求？",  # the documents' own structure
    ],
)
def test_segmentation_artifacts_question_words_and_structure_words_are_not_unknown(question):
    assert unknown(question) == []


def test_money_is_asked_in_yuan_not_in_place_names():
    assert missing_unit("How many billion yuan will the park cost?", "no figure here") == "money"
    assert missing_unit("What standing should Sanjiangyuan National Park reach?", "world-class") is None
    assert missing_unit("推动产业多元化发展有哪些举措？", "多元化") is None
    assert missing_unit("总投资是多少亿元？", "总投资120亿元") is None


@pytest.mark.parametrize(
    ("question", "evidence", "missing"),
    [
        ("What corporate income tax rate applies in the pilot zone?", "Build the pilot zone as a core area.", True),
        ("企业所得税税率是多少？", "打造以柴达木循环经济试验区为核心区的产业集聚区。", True),
        ("森林覆盖率要达到多少？", "森林覆盖率达到8%。", False),
        ("What is the forest coverage rate target?", "Forest coverage will reach 8 percent.", False),
        # asking how to raise a rate asks for no figure
        ("Which measures raise the recycling rate?", "Improve the recycling network.", False),
        ("如何提高资源回收利用率？", "完善回收网络。", False),
    ],
)
def test_a_rate_asked_for_as_a_figure_needs_a_percentage(question, evidence, missing):
    assert (missing_unit(question, evidence) == "percentage") is missing


def test_a_year_only_in_a_document_title_is_no_target_for_that_year():
    title = "依据《青海省国民经济和社会发展第十四个五年规划和二〇三五年远景目标纲要》编制。"
    assert missing_year("What is the 2035 target for tourists?", [(title, "… Objectives Through 2035")]) == "2035"
    assert missing_year("到2035年生态环境要达到什么状态？", [("到二〇三五年，生态环境根本好转。", "")]) is None
    assert missing_year("到2025年的目标？", [("到2025年，森林覆盖率达到8%。", "")]) is None


def test_a_year_must_come_with_what_the_question_asks_about():
    water = ("到2035年，区域水源涵养功能明显提升。", "By 2035, the water conservation function will improve.")
    assert missing_year("What is the 2035 target for inbound tourists?", [water]) == "2035"
    assert missing_year("到2035年旅游人次目标是多少？", [water]) == "2035"
    assert missing_year("By 2035, how will water conservation change?", [water]) is None
    assert missing_year("到2035年水源涵养功能怎样？", [water]) is None


def test_judge_in_each_language():
    assert judge("zh", "门源县油菜花海旅游开发有哪些安排？", [("证据", "")], PLANS, SETTINGS).abstain
    assert not judge(
        "en", "What standing for Sanjiangyuan?", [("证据", "world-class Sanjiangyuan")], PLANS, SETTINGS
    ).abstain


def test_english_names_the_english_plans_never_use_are_unknown():
    english = "Build Golmud and Delingha into salt lake industry bases. The Qaidam Basin Circular Economy Pilot Zone."
    assert unknown_english_names("What does the plan say about Korla?", english) == ["Korla"]
    assert unknown_english_names("What will Golmud and the Qaidam Basin build?", english) == []
    assert unknown_english_names("Which projects are planned in Lenghu Town?", english) == ["Lenghu", "Town"]
    assert unknown_english_names("How will salt lakes develop?", english) == [], "the first word is no name"
    assert not judge("en", "What about Korla?", [("证据", "Korla")], PLANS, SETTINGS, english_corpus="").abstain, (
        "without an English text of every plan, a name may be in a plan's Chinese only"
    )
    assert judge("en", "What about Korla?", [("证据", "Korla")], PLANS, SETTINGS, english_corpus=english).abstain


def test_an_english_question_with_a_translation_is_also_judged_on_the_chinese_side():
    # a machine draft words the evidence otherwise than the asker ("capacity" vs "exploitable amount")
    evidence = [("青海光伏资源理论可开发量达35亿千瓦。", "Qinghai's exploitable solar reserves reach 3.5 billion kW.")]
    question = "What photovoltaic capacity does the province have in theory?"
    assert judge("en", question, evidence, PLANS, SETTINGS).abstain, "the English covers too little"
    translation = "青海光伏资源理论可开发量是多少？"
    assert not judge("en", question, evidence, PLANS, SETTINGS, translation=translation).abstain
    unrelated = "深圳半导体产业规模是多少？"
    assert judge("en", question, evidence, PLANS, SETTINGS, translation=unrelated).abstain


def test_a_year_is_looked_for_with_the_translations_words():
    water = ("到2035年，区域水源涵养功能明显提升。", "By 2035, the region's water retention will rise.")
    question = "By 2035, how will water conservation change?"
    # no translation, no rendering: the subject cannot be compared, so the year alone decides
    assert missing_year(question, [(water[0], "")]) is None
    assert missing_year(question.replace("2035", "2030"), [(water[0], "")]) == "2030"
    assert missing_year(f"{question} 到2035年水源涵养功能会怎样变化？", [(water[0], "")]) is None
    unrelated = f"{question} 到2035年旅游人次会怎样变化？"  # the translation names another subject
    assert missing_year(unrelated, [(water[0], "")]) == "2035"


def test_a_figure_must_come_with_what_the_question_asks_about():
    waste = ("到2025年，城市、县城(建成区)生活垃圾无害化处理率分别达到97%和92%。", "")
    assert missing_figure("到2025年，全省牦牛和藏羊的存栏量目标分别是多少？", [waste]), "97% is no yak figure"
    assert not missing_figure("到2025年县城生活垃圾无害化处理率是多少？", [waste])
    villages = "完成400个建制村生活污水治理任务。"  # a count, where a rate is asked for
    assert missing_unit("到2025年，全省农村生活污水治理率要达到多少？", villages) == "percentage"


def test_counts_in_chinese_words_are_figures_and_one_per_each_is_not():
    assert states_figure("到2025年，完成一轮土壤和地下水污染状况排查整治。")
    assert states_figure("开展生态文明建设“百镇千村”示范创建。")
    assert not states_figure("推行一户一岗，带动群众参与管护。"), "one post per household, not a count"
    assert not states_figure("形成一批典型经验。"), "a batch of: no figure"
    assert not states_figure("到2025年，推进“十四五”规划实施。"), "a year and the period's name are no figure"


def test_a_question_asking_when_needs_a_year_for_its_subject():
    line = ("加快推进羚羊至若羌双回750千伏线路，实现青海与新疆电网互联。", "")
    assert missing_date("羚羊至若羌双回750千伏线路计划哪一年建成投运？", [line]), "750 kV is no year"
    dated = ("到2025年，建成羚羊至若羌双回750千伏线路。", "")
    assert not missing_date("羚羊至若羌双回750千伏线路计划哪一年建成投运？", [dated])
    english = (line[0], "Speed up the Lingyang–Ruoqiang double-circuit 750 kV line.")
    assert missing_date("When is the Lingyang-Ruoqiang 750 kV line due to be completed?", [english])
    assert not missing_date("What happens when the line is completed?", [english]), "a conjunction asks no date"


def test_the_words_the_plans_use_everywhere_count_for_little():
    subject = Subject.of("到2025年，全省农膜回收率要达到多少？", PLANS)
    weights = dict(subject.words)
    assert weights["农膜"] > weights["全省"]
    fertiliser = ("到2025年，全省测土配方施肥覆盖率达到90%以上。", "")  # names 全省, the commonest word
    assert missing_figure("到2025年，全省农膜回收率要达到多少？", [fertiliser], subject)
    english = Subject.of("How many EV charging piles will Qinghai build by 2025?", PLANS, "qinghai " * 50)
    transport = ("", "By 2025, all new buses in Qinghai will be new-energy vehicles, 100% coverage.")
    assert missing_figure("How many EV charging piles will Qinghai build by 2025?", [transport], english)


def test_questions_asking_how_large_or_what_value_ask_for_a_figure():
    grass = (
        "到2025年，青海湖流域草原综合植被盖度达到60%。",
        "By 2025, grassland vegetation coverage in the Qinghai Lake basin will reach 60%.",
    )
    assert missing_figure("What annual output value should Qinghai's biomedicine industry reach by 2025?", [grass])
    assert missing_figure("How large a stock of naked carp will Qinghai Lake hold by 2025?", [grass])
    assert missing_figure("青海湖裸鲤资源蕴藏量要恢复到多大规模？", [grass])
    answered = "What coverage value should the grassland vegetation of the Qinghai Lake basin reach by 2025?"
    assert not missing_figure(answered, [grass])
    assert not missing_figure("生态补偿机制发挥了多大作用？", [grass]), "to what extent asks for no figure"
