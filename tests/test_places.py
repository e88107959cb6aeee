"""Place keys: one home written the way the registry, the 137 hotline and a permit write it."""
from __future__ import annotations

from munihub.resolve.places import district_key, place_key


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
    # «کوچه شهید احمدی» and «کوچه شهید رضایی» are two alleys (the key was «شهید» for both)
    ahmadi = place_key("بلوار وکیل‌آباد، کوچه شهید احمدی، پلاک ۵")
    assert ahmadi == place_key("بلوار وکیل آباد کوچه شهید احمدی پلاک 5") == "وکیلاباد/شهیداحمدی"
    assert ahmadi != place_key("بلوار وکیل‌آباد، کوچه شهید رضایی، پلاک ۵")
    assert place_key("وکیل‌آباد، کوچه گلستان ۳، پلاک ۱") == place_key("وکیل‌آباد کوچه گلستان 3 پلاک 1")
    assert place_key("وکیل‌آباد، کوچه گلستان ۳") != place_key("وکیل‌آباد، کوچه گلستان ۴")
    assert place_key("وکیل‌آباد، کوچه 12 روبروی پارک") == "وکیلاباد/12"
    assert place_key("بلوار سجاد، کوچه بهار، روبروی مسجد") == "سجاد/بهار"
