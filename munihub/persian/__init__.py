"""Reading Persian values: letters and digits, names, identifiers, dates.

What every other wing uses to clean and compare Persian text.  The work lives in small
modules (`letters`, `names`, `titles`, `person_names` with `owners` for one-field names, `ids`,
`dates`, and `transforms`, the value readers a contract names); this package is their public face.  `__all__` is the contract other stages rely on, and a test keeps it honest.
"""
from __future__ import annotations

from munihub.persian.dates import JALALI_MONTHS, jalali_to_iso, parse_date, parse_datetime, to_jalali
from munihub.persian.ids import (contacts_in, national_id_in_text, is_valid_mobile, is_valid_national_id, is_valid_postal_code,
                                 national_id_check_digit, parse_gender, parse_mobile, parse_national_id,
                                 no_number, parse_phone, parse_postal_code, phones_in)
from munihub.persian.letters import ZWNJ, NormalizeError, match_key, normalize_text, to_latin_digits
from munihub.persian.names import SHORT_FORMS, TITLES, name_key, split_title, title_gender, title_of
from munihub.persian.person_names import ParsedName, first_name_genders, is_placeholder, parse_name

__all__ = [
    "NormalizeError", "ZWNJ", "to_latin_digits", "normalize_text", "match_key",
    "split_title", "title_of", "title_gender", "name_key", "TITLES", "SHORT_FORMS", "parse_name", "ParsedName", "is_placeholder",
    "first_name_genders",
    "parse_national_id", "is_valid_national_id", "national_id_check_digit",
    "contacts_in", "national_id_in_text", "no_number", "parse_mobile", "is_valid_mobile", "parse_phone", "phones_in", "parse_postal_code", "is_valid_postal_code",
    "parse_gender",
    "parse_date", "parse_datetime", "to_jalali", "jalali_to_iso", "JALALI_MONTHS",
]
