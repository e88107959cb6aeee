"""One-field names as exports write them (issue 15): parts, order from evidence, unsure, placeholders."""
from __future__ import annotations

import pytest

from munihub.persian import name_key, parse_name
from munihub.persian.transforms import TRANSFORMS

ZWNJ = "\u200c"


@pytest.mark.parametrize("written, first, last, father, title, seyyed", [
    ("علی احمدی", "علی", "احمدی", None, None, False),
    ("احمدی علی", "علی", "احمدی", None, None, False),                  # surname first, no separator
    ("احمدی، علی", "علی", "احمدی", None, None, False),
    ("احمدی - علی", "علی", "احمدی", None, None, False),
    ("احمدي,علي", "علی", "احمدی", None, None, False),                  # Arabic letters, Latin comma
    ("آقای علی احمدی", "علی", "احمدی", None, "آقای", False),
    ("احمدی، آقای علی", "علی", "احمدی", None, "آقای", False),          # a title inside the name
    ("کریمی مهندس محمدرضا", "محمدرضا", "کریمی", None, "مهندس", False),
    ("حاج آقا رضایی", None, "رضایی", None, "حاج", False),              # title and surname only
    # Latin script, as a contractor's system writes Persian names (bench_blind8): a word is a
    # first name or a surname by the Persian names it can spell («reza» رضا, «ahmadi» احمدی)
    ("Mohammad Reza Ahmadi", "Mohammad Reza", "Ahmadi", None, None, False),
    ("Fatemeh Zahra Khorasani", "Fatemeh Zahra", "Khorasani", None, None, False),
    ("Ali Reza Karimi", "Ali Reza", "Karimi", None, None, False),
    ("Reza Rezaei", "Reza", "Rezaei", None, None, False),
    ("آقای احمدی", None, "احمدی", None, "آقای", False),
    ("خانم کریمی", None, "کریمی", None, "خانم", False),
    ("حاجیه خانم فاطمه حسینی", "فاطمه", "حسینی", None, "حاجیه", False),
    ("جناب آقای دکتر حسین‌زاده", None, "حسین‌زاده", None, "آقای دکتر", False),
    ("علی احمدی فرزند حسن", "علی", "احمدی", "حسن", None, False),
    ("احمدی، علی فرزند حسن", "علی", "احمدی", "حسن", None, False),
    ("سیدمحمد موسوی", "محمد", "موسوی", None, None, True),              # seyyed joined
    ("سیدملیحه قاسمی", "ملیحه", "قاسمی", None, None, True),            # to a woman's name too
    ("سیدمهدی موسوی", "مهدی", "موسوی", None, None, True),              # سید + مهدی, not سیده + هدی
    ("سیدههدی موسوی", "هدی", "موسوی", None, None, True),
    ("سید محمد موسوی", "محمد", "موسوی", None, None, True),             # spaced
    ("محمد موسوی", "محمد", "موسوی", None, None, False),                # dropped
    ("سیده زهرا هاشمی فرزند سید علی", "زهرا", "هاشمی", "علی", None, True),
    ("مهندس محمد رضا کریمی", "محمد رضا", "کریمی", None, "مهندس", False),  # a compound first name spaced
    ("علی اکبر قاسم زاده", "علی اکبر", "قاسم زاده", None, None, False),   # and a compound surname
    ("رضایی فر محمد", "محمد", "رضایی فر", None, None, False),
    ("سیدی محمد", "محمد", "سیدی", None, None, False),                   # «سیدی» is a surname, not a title
    ("حاجی زاده علی", "علی", "حاجی زاده", None, None, False),           # nor «حاجی» before «زاده»
    ("خانم علی پور", None, "علی پور", None, "خانم", False),             # a surname split by a space, alone
    ("آقای پورمحمد", None, "پورمحمد", None, "آقای", False),             # a title before a «پور…» surname
    ("خانم پور زارع", None, "پور زارع", None, "خانم", False),
    ("حاجی پور", None, "حاجی پور", None, None, False),                   # but «حاجی» before «پور» is one
    ("حسین زاده", None, "حسین زاده", None, None, False),                 # is not a first name and «زاده»
    ("حسن مشهدی", "حسن", "مشهدی", None, None, False),                  # a title-like word after a name
    ("آقای حسن مشهدی فرزند علی", "حسن", "مشهدی", "علی", "آقای", False),  # is the surname
    ("مشهدی حسن", "حسن", None, None, "مشهدی", False),                  # before it, the title
    ("زهرابیگم", "زهرابیگم", None, None, None, False),                 # a woman's name with its suffix, alone
    ("خانم فاطمه‌السادات", f"فاطمه{ZWNJ}السادات", None, None, "خانم", False),  # is her first name
    ("رقیه‌سادات", f"رقیه{ZWNJ}سادات", None, None, None, False),
    # «سادات», «بیگم» written apart belong to the first name before them, not to the surname
    ("هانیه سادات باقری", "هانیه سادات", "باقری", None, None, False),
    ("باقری، فاطمه السادات", "فاطمه السادات", "باقری", None, None, False),
    ("زهرا بیگم رضایی", "زهرا بیگم", "رضایی", None, None, False),
    (f"سارا سادات{ZWNJ}بیگم هاشمی", f"سارا سادات{ZWNJ}بیگم", "هاشمی", None, None, False),  # stacked
    ("هانیه خانم کریمی", "هانیه", "کریمی", None, "خانم", False),        # a courtesy word is a title
    ("علی سادات اخوی", "علی", "سادات اخوی", None, None, False),         # after a man's name: a surname
    # a spaced surname head after a title is the surname's: «آل یاسین» (آل‌یاسین), «میر کاظمی»
    ("آقای آل یاسین", None, "آل یاسین", None, "آقای", False),
    ("خانم آل داوود", None, "آل داوود", None, "خانم", False),
    ("آقای میر کاظمی", None, "میر کاظمی", None, "آقای", False),
    ("سید میر حسینی", None, "میر حسینی", None, None, True),
    ("علی آل یاسین", "علی", "آل یاسین", None, None, False),
    ("آقای میر علی", None, "میر علی", None, "آقای", False),             # (not first علی, surname میر)
    ("میر علی حسینی", "میر علی", "حسینی", None, None, False),          # a first name «میرعلی» spaced
    # notes in brackets: a part of the name, a father, or a word about the person (dropped)
    ("احمدی (علی)", "علی", "احمدی", None, None, False),
    ("علی احمدی (فرزند حسن)", "علی", "احمدی", "حسن", None, False),
    ("احمدی علی (پدر: حسن)", "علی", "احمدی", "حسن", None, False),
    ("علی احمدی (نام پدر حسن)", "علی", "احمدی", "حسن", None, False),
    ("علی احمدی نام پدر: حسن", "علی", "احمدی", "حسن", None, False),
    ("علی احمدی (وکیل)", "علی", "احمدی", None, None, False),
    ("علی احمدی [متوفی]", "علی", "احمدی", None, None, False),
    ("پدرام احمدی", "پدرام", "احمدی", None, None, False),              # «پدر» inside a name is no mark
    ("علی_احمدی", "علی", "احمدی", None, None, False),                  # an underscore for a space
    ("شادروان حسن کریمی", "حسن", "کریمی", None, "مرحوم", False),
    ("ورثه مرحوم حسن کریمی", "حسن", "کریمی", None, "مرحوم", False),    # the heirs' record names the late
    # a field naming several people (a joint bill or deed): the first of them
    ("علی احمدی و زهرا کریمی", "علی", "احمدی", None, None, False),
    ("آقای علی احمدی و خانم زهرا کریمی", "علی", "احمدی", None, "آقای", False),
    ("آقای کریمی و شرکا", None, "کریمی", None, "آقای", False),
    # owners sharing a surname written once: the first owner (the permit carries his id)
    ("مهدی و علی احمدی", "مهدی", "احمدی", None, None, False),
    ("آقای مهدی و علی احمدی فرزند حسن", "مهدی", "احمدی", "حسن", "آقای", False),
    ("سید مهدی و علی موسوی", "مهدی", "موسوی", None, None, True),
    ("محمد و علی رضا احمدی", "محمد", "احمدی", None, None, False),
    # an agent signing for the owner (a deed, a receipt): the owner after the words, not the agent
    ("شیما نوری به وکالت از رضا نوری", "رضا", "نوری", None, None, False),
    ("زهرا احمدی به وکالت از طرف آقای محمد احمدی", "محمد", "احمدی", None, "آقای", False),
    ("حسن رضایی وکالتاً از طرف سید علی موسوی", "علی", "موسوی", None, None, True),
    ("حسن رضایی به نمایندگی از مریم کریمی", "مریم", "کریمی", None, None, False),
    ("زهرا نوری به قیمومت از علی کریمی", "علی", "کریمی", None, None, False),
    ("علی رضایی به ولایت قهری از فرزند صغیرش محمد رضایی", "محمد", "رضایی", None, None, False),
    ("علی رضایی ولی قهری محمد رضایی", "محمد", "رضایی", None, None, False),
    ("زهرا نوری به وکالت از همسرش رضا کریمی", "رضا", "کریمی", None, None, False),
    ("شیما نوری به وکالت از مهدی و علی احمدی", "مهدی", "احمدی", None, None, False),
    ("شیما نوری به وکالت از ورثه مرحوم حسن کریمی", "حسن", "کریمی", None, "مرحوم", False),
    # ...but a name that only looks like one of those words is a name
    ("علی اکبر ولایتی", "علی اکبر", "ولایتی", None, None, False),
    (f"ولی{ZWNJ}الله وکالتی", f"ولی{ZWNJ}الله", "وکالتی", None, None, False),
    # a relative named after the caller's own name is another person: dropped
    ("زهرا نوری همسر علی کریمی", "زهرا", "نوری", None, None, False),
    ("خانم نوری مادر حسن کریمی", None, "نوری", None, "خانم", False),
    # a relative named instead of the caller: a child or sibling shares the surname
    ("پسر حسن رضایی", None, "رضایی", None, "آقای", False),
    ("دختر آقای رضایی", None, "رضایی", None, "خانم", False),
    ("برادران علی", "علی", "برادران", None, None, False),             # a surname, not «برادر»
    # a child named by the father alone: the father's surname is the child's
    ("فرزند حسن رضایی", None, "رضایی", "حسن", None, False),
    ("بنت حسن رضایی", None, "رضایی", "حسن", "خانم", False),
    ("علی رضایی فرزند: حسن", "علی", "رضایی", "حسن", None, False),
    # a given name and the father's, no surname (Afghan nationals' registrations)
    ("شکریه ولد نورآقا", "شکریه", None, "نورآقا", None, False),
    ("احمد فرزند محمود", "احمد", None, "محمود", None, False),
    ("رضایی فرزند حسن", None, "رضایی", "حسن", None, False),             # a surname stays one
])
def test_every_form_exports_write_is_read_into_parts(written, first, last, father, title, seyyed):
    got = parse_name(written)
    assert (got.first, got.last, got.father, got.title, got.seyyed) == (first, last, father, title, seyyed)
    assert not got.placeholder


@pytest.mark.parametrize("written", ["ناشناس", "شهروند", "بدون نام", " بدون  نام ", "آقای ناشناس", "نامشخص",
                                     "---", "؟"])
def test_placeholders_name_nobody(written):
    got = parse_name(written)
    assert got.placeholder and got.first is None and got.last is None
    assert TRANSFORMS["person_name"](written) is None  # the record field stays empty


@pytest.mark.parametrize("written, title", [
    ("همسر علی کریمی", "خانم"),       # a wife calling for her husband's account: not him, a woman
    ("همسر آقای کریمی", "خانم"),
    ("همسر زهرا کریمی", "آقای"),
    ("همسر کریمی", None),             # whose spouse, unknown
    ("عیال کریمی", "خانم"),
    ("مادر زهرا نوری", "خانم"),        # a mother keeps her own surname
])
def test_a_spouse_or_mother_named_instead_of_the_caller_names_nobody(written, title):
    got = parse_name(written)
    assert got.placeholder and got.first is None and got.last is None and got.title == title


@pytest.mark.parametrize("written", ["شرکت ساختمانی توس بنا", "تعاونی مسکن فرهنگیان", "اداره کل راه و شهرسازی",
                                     "بانک ملت شعبه احمدآباد", "موسسه خیریه امام رضا"])
def test_an_organisation_names_no_person_but_keeps_its_name(written):
    got = parse_name(written)
    assert got.placeholder and got.first is None and got.last is None
    assert TRANSFORMS["person_name"](written) == written  # the payer's field keeps the company's name
    assert not parse_name("علی بانکی").placeholder and not parse_name("دفتری علی").placeholder


@pytest.mark.parametrize("written", [
    "علی رضایی به نمایندگی از شرکت توس بنا",   # an officer signing for his company: nobody
    "شرکت توس بنا به نمایندگی علی رضایی",       # the company, represented by its director: nobody
    "علی رضایی به وکالت از",                    # cut after the mark: the owner is not named
])
def test_an_agent_for_a_company_or_for_nobody_named_names_no_person(written):
    got = parse_name(written)
    assert got.placeholder and got.first is None and got.last is None


def test_an_agents_record_is_the_owners_without_the_agents_phone():
    from munihub.resolve.records import person_mention
    mention = person_mention({"citizen_name": "محمد سبزواری به وکالت از امیر سبزواری",
                              "national_id": "3475708590", "mobile": "+989152288539"})
    assert (mention["first_name"], mention["last_name"], mention["national_id"]) == ("امیر", "سبزواری", "3475708590")
    assert "mobile" not in mention  # the agent's, who came to the counter: not the owner's
    assert "mobile" in person_mention({"citizen_name": "امیر سبزواری", "mobile": "+989152288539"})


def test_a_spouse_named_call_is_a_woman_without_the_husbands_name():
    from munihub.resolve.records import person_mention
    mention = person_mention({"citizen_name": "همسر علی کریمی", "mobile": "+989151234567"})
    assert mention["gender"] == "female"
    assert not {"first_name", "last_name", "full_name"} & set(mention)


def test_the_order_is_decided_by_evidence_and_doubt_is_said():
    sure = parse_name("محمدی رضا")
    assert (sure.first, sure.last) == ("رضا", "محمدی") and not sure.unsure
    both_first_names = parse_name("فاطمه زهرا")  # a compound first name, or a first name and «زهرا» surname?
    assert both_first_names.unsure
    nothing_known = parse_name("گلدان کتاب")  # neither word is on a list nor looks like a surname
    assert nothing_known.unsure and (nothing_known.first, nothing_known.last) == ("گلدان", "کتاب")
    assert parse_name("علی").first == "علی" and parse_name("علی").last is None


def test_no_value_and_hostile_values():
    assert parse_name(None) is None and parse_name("") is None and parse_name("   ") is None
    long = parse_name("علی " * 500)
    assert long is not None and len(long.first or "") + len(long.last or "") <= 200
    assert parse_name(12345) is not None  # a number in a name column: read as text, never a crash


def test_the_name_lists_ship_with_the_package():
    from importlib import resources
    data = resources.files("munihub.persian").joinpath("data")
    firsts = data.joinpath("first_names.txt").read_text("utf-8").splitlines()
    lasts = data.joinpath("surnames.txt").read_text("utf-8").splitlines()
    assert "محمد" in firsts and "احمدی" in lasts and len(firsts) > 250 and len(lasts) > 200


@pytest.mark.parametrize("written, surname, gender", [
    ("سرکار خانم قوچانی", "قوچانی", "female"), ("حاج آقا هاشمی", "هاشمی", "male"),
    ("جناب بهرامي", "بهرامی", "male"), ("حاجیه خانم رحیمی", "رحیمی", "female")])
def test_a_title_before_a_lone_surname_is_kept_for_the_gender_it_says(written, surname, gender):
    from munihub.resolve.records import person_mention

    stored = TRANSFORMS["person_name"](written)  # what a contract's person_name publishes
    mention = person_mention({"citizen_name": stored, "tracking_code": "1403000001"})
    assert mention["last_name"] == surname and mention["gender"] == gender and "first_name" not in mention


def test_a_title_before_a_whole_name_is_still_dropped():
    assert TRANSFORMS["person_name"]("سرکار خانم فاطمه قوچانی") == "فاطمه قوچانی"
    assert TRANSFORMS["person_name"]("دکتر سید علی رضایی") == "علی رضایی"
    # a split first-name field «خانم فاطمه» keeps its title too: matching's name key drops it
    assert name_key(TRANSFORMS["person_name"]("خانم فاطمه")) == name_key("فاطمه")
    assert TRANSFORMS["person_name"]("قوچانی") == "قوچانی"
