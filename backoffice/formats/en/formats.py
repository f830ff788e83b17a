"""One way to write a date on staff pages (``|date``, ``|date:"DATETIME_FORMAT"``, ``formats.date_format``)."""

DATE_FORMAT = "j M Y"  # 7 Dec 2026
DATETIME_FORMAT = "j M Y, H:i"  # 7 Dec 2026, 23:04
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
