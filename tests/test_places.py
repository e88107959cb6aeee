"""Place keys: one home written the way the registry, the 137 hotline and a permit write it."""
from __future__ import annotations

from munihub.resolve.places import district_key, landmark_key, place_key


def test_the_registry_and_the_hotline_name_one_place():
    registry = "مشهد، بلوار وکیل‌آباد، کوچه ۱۲، پلاک ۵، واحد ۲"
    hotline = "بلوار وکيل آباد كوچه 12"  # Arabic letters, a space for the half-space
    permit = {"detail": "مشهد، وکیلآباد، کوچه 12، پلاک 5", "district": "منطقه ۸"}
    assert place_key(registry) == place_key(hotline) == place_key(permit) == "وکیلاباد/12"
    assert place_key("بلوار وکیل‌آباد، کوچه ۱۳") != place_key(registry)
    assert place_key({"street": "بلوار وکیل‌آباد", "alley": "۱۲"}) == "وکیلاباد/12"  # alley in its own field
    assert place_key({"street": "بلوار وکیل‌آباد", "alley": "کوچه 12"}) == "وکیلاباد/12"


def test_a_street_alone_names_no_place():
    assert place_key("بلوار توس") is None
    assert place_key({"street": "بلوار توس"}) is None
    assert place_key(None) is None and place_key({}) is None


def test_district_digits_and_words_agree():
    assert district_key({"district": "منطقه ۳"}) == district_key({"district": "3"}) == "3"
    assert district_key({"detail": "x"}) is None and district_key("منطقه ۳") is None


def test_an_operators_shorthands_name_the_same_place():
    # «ک ۲۶» for «کوچه ۲۶», «نبش کوچه» (the corner of the alley), and Mashhad's «کوهسنگی ۲۶»:
    # an alley numbered off its street, written without «کوچه» (issue 16, outsider bench)
    for text in ("خیابان کوهسنگی، کوچه ۲۶", "خ. کوهسنگی، ک 26", "خیابان کوهسنگی، نبش کوچه 26",
                 "خیابان کوهسنگی نبش کوچه ۲۶", "کوهسنگی ۲۶", "کوهسنگی26، پلاک 9", "بل. کوهسنگی، ک.26"):
        assert place_key(text) == "کوهسنگی/26", text
    assert place_key("خیابان کوهسنگی ۲۷") != place_key("خیابان کوهسنگی ۲۶")
    assert place_key("بلوار سجاد پلاک 12") is None  # a plaque on the street names no alley
    assert place_key("بانک ملی") is None and place_key("خیابان بانک، کوچه 3") == "بانک/3"


def test_a_named_alley_is_its_whole_name():
    # «کوچه شهید احمدی» and «کوچه شهید رضایی» are two alleys (the key was «شهید» for both);
    # «شهید» itself is dropped, as clerks write it or not
    ahmadi = place_key("بلوار وکیل‌آباد، کوچه شهید احمدی، پلاک ۵")
    assert ahmadi == place_key("بلوار وکیل آباد کوچه شهید احمدی پلاک 5") == place_key("وکیل‌آباد، کوچه احمدی") == "وکیلاباد/احمدی"
    assert ahmadi != place_key("بلوار وکیل‌آباد، کوچه شهید رضایی، پلاک ۵")
    assert place_key("وکیل‌آباد، کوچه گلستان ۳، پلاک ۱") == place_key("وکیل‌آباد کوچه گلستان 3 پلاک 1")
    assert place_key("وکیل‌آباد، کوچه گلستان ۳") != place_key("وکیل‌آباد، کوچه گلستان ۴")
    assert place_key("وکیل‌آباد، کوچه 12 روبروی پارک") == "وکیلاباد/12"
    assert place_key("بلوار سجاد، کوچه بهار، روبروی مسجد") == "سجاد/بهار"


def test_nested_alleys_are_keyed_by_their_whole_path():
    # «وکیل‌آباد ۱۲، گلستان ۳»: alley «گلستان ۳» off alley 12 off Vakilabad (issue 16)
    nested = place_key("وکیل‌آباد ۱۲، گلستان ۳")
    assert nested == place_key("مشهد، بلوار وکیل آباد، کوچه ۱۲، کوچه گلستان ۳، پلاک ۷") == "وکیلاباد/12/گلستان3"
    assert nested == place_key("خیابان وکیل‌آباد، ک ۱۲، گلستان 3") == place_key("وکیل‌آباد کوچه ۱۲ گلستان ۳")
    assert nested != place_key("وکیل‌آباد ۱۲") and nested != place_key("وکیل‌آباد، کوچه گلستان ۳")
    assert nested != place_key("وکیل‌آباد ۱۴، گلستان ۳") and nested != place_key("وکیل‌آباد ۱۲، گلستان ۴")
    assert place_key("امامت ۲۴، شهید رجایی ۵") == place_key("بلوار امامت، کوچه 24، کوچه رجایی 5") == "امامت/24/رجایی5"
    assert place_key("وکیل‌آباد ۱۲، کوچه اول") != place_key("وکیل‌آباد ۱۲")  # «اول» names an alley here
    assert place_key("سناباد ۱۲/۱") == "سناباد/12/1" != place_key("سناباد ۱۲")


def test_martyr_and_the_streets_kind_are_ignored():
    for text in ("خیابان شهید قرنی، کوچه ۸", "قرنی ۸", "بلوار قرنی ک ۸", "میدان شهید قرنی، کوچه 8",
                 "چهارراه قرنی، کوچه ۸", "شهید قرنى 8"):
        assert place_key(text) == "قرنی/8", text
    assert place_key("خیابان شهید قرنی، کوچه ۹") != place_key("خیابان قرنی، کوچه ۸")
    assert place_key("خیابان شهید") is None and place_key("کوچه شهید، پلاک ۲") is None


def test_dead_ends_plaques_and_floors():
    assert place_key("سجاد ۱۴، بن‌بست ۳") == place_key("بلوار سجاد، کوچه ۱۴، کوچه بن بست 3") == "سجاد/14/3"
    assert place_key("سجاد ۱۴، انتهای بن‌بست") == place_key("سجاد ۱۴") == "سجاد/14"  # the dead end's far end
    assert place_key("سجاد ۱۴، بن‌بست ۳") != place_key("سجاد ۱۴")
    for text in ("بلوار سجاد، کوچه ۱۴، پ ۵، طبقه ۲", "سجاد ۱۴ پ.۵ واحد ۳", "سجاد 14، طبقه دوم"):
        assert place_key(text) == "سجاد/14", text
    assert place_key("سجاد ۱۴، پ ۵") == place_key("سجاد ۱۴، پ ۶")  # the building is not the alley
    assert place_key("بلوار سجاد، پ ۱۴") is None  # a plaque on the street names no alley


def test_an_address_typed_without_spaces_reads_as_with_them():
    """«بلوار طبرسی،طبرسی۲۷،پ۱۰۳»: a plaque or alley abbreviation after a comma or a digit
    (found by bench/bench_blind4.py: a fifth of one export's addresses)."""
    for text in ("بلوار طبرسی،طبرسی۲۷،پ۱۰۳", "خ طبرسی،ک۲۷،پ.۱۰۳،واحد۴", "طبرسی۲۷پ۱۰۳"):
        assert place_key(text) == place_key("بلوار طبرسی، کوچه ۲۷، پلاک ۱۰۳") == "طبرسی/27", text
    assert place_key("خیابان چپ ۳") == "چپ/3"  # a word ending in «پ» is no plaque


def test_digits_and_letters_mixed():
    for text in ("وكيل آباد ۱2، گلستان ٣", "وکیل‌آباد 1۲، کوچه گلستان ۳"):
        assert place_key(text) == "وکیلاباد/12/گلستان3", text


def test_a_landmark_names_no_home():
    # «جنب مسجد الزهرا»: where a problem is, not a household place for persons (issue 16)
    for text, landmark in (("بلوار سجاد، جنب مسجد الزهرا", "سجاد~مسجدالزهرا"),
                           ("خیابان شهید قرنی روبروی پارک ملت", "قرنی~پارکملت"),
                           ("سجاد، نرسیده به چهارراه دانش", "سجاد~دانش")):
        assert place_key(text) is None, text
        assert landmark_key(text) == landmark, text
    assert landmark_key("بلوار سجاد، روبروی مسجد الزهرا") == landmark_key("سجاد جنب مسجد الزهرا")
    assert landmark_key("بلوار سجاد، جنب مسجد الزهرا") != landmark_key("بلوار سجاد، جنب مسجد جامع")
    assert landmark_key("بلوار سجاد، کوچه ۱۲ روبروی پارک") is None  # the alley is the place
    assert place_key("بلوار سجاد، کوچه ۱۲ روبروی پارک") == "سجاد/12"


def test_the_postal_services_address_and_dashes_name_the_same_place():
    """The national postal-code service writes every level from the province down, and the
    alley by its street's name and number; other systems part the levels with dashes."""
    postal = ("استان خراسان رضوی، شهرستان مشهد، بخش مرکزی، شهر مشهد، محله سناباد، خیابان سناباد، "
              "کوچه سناباد ۲۴، پلاک ۱۲، طبقه همکف")
    assert place_key(postal) == place_key("خیابان سناباد، کوچه ۲۴") == "سناباد/24"
    assert place_key("مشهد - خیابان سناباد - کوچه 24 - پلاک 12 - طبقه 2") == "سناباد/24"
    assert place_key("خراسان رضوی - مشهد - سناباد 24 - پ 12") == "سناباد/24"
    assert place_key("بلوار سجاد، کوچه سجاد ۱۴/۳") == place_key("بلوار سجاد، سجاد ۱۴/۳") == "سجاد/14/3"
    # an alley named after another street keeps its whole name; a name that only starts like the street too
    assert place_key("خیابان سناباد، کوچه ملک ۲۴") == "سناباد/ملک24"
    assert place_key("خیابان سناباد، کوچه سنابادی") == "سناباد/سنابادی"


def test_a_named_district_with_or_without_its_word_is_one():
    """«ثامن» and «منطقه ثامن» (Mashhad's central district by name; found by bench_blind5: two
    calls of one citizen at one place never joined)."""
    from munihub.resolve.places import district_key

    assert district_key({"district": "ثامن"}) == district_key({"district": "منطقه ثامن"}) == "ثامن"
    assert district_key({"district": "منطقه ۳"}) == district_key({"district": "3"}) == "3"
    assert district_key({"district": "ثامن"}) != district_key({"district": "منطقه 3"})
