#!/usr/bin/env python3
"""Regenerates the small file-input fixtures used by tests/cli_files.rs.

All notes are invented. Run from this directory: python3 make.py
"""

# UTF-16LE with BOM, semicolon-delimited, every field quoted (Salesforce Data Loader style).
rows = [
    ["ID", "WHOID", "DESCRIPTION"],
    ["00T1", "003A", "Patiënt heeft diabetes, bel terug."],
    ["00T2", "003B", "Offerte verstuurd."],
]
text = "".join(";".join('"%s"' % c for c in r) + "\r\n" for r in rows)
open("utf16le-bom.csv", "wb").write(b"\xff\xfe" + text.encode("utf-16-le"))

# windows-1252, comma-delimited, minimal quoting (a Danish export saved by Excel).
text = (
    "id,kunde,notat\r\n"
    "1,K1,Hr. Sørensen er sygemeldt efter operation.\r\n"
    "2,K2,Ring til fru Ødegård om fakturaen.\r\n"
)
open("windows-1252.csv", "wb").write(text.encode("cp1252"))

# UTF-8, multi-line quoted notes, a blank line, a ragged row.
text = (
    'id,customer_id,note\n'
    '1,C1,"Eerste regel.\nKlant heeft diabetes.\nDerde regel, met ""quotes""."\n'
    '\n'
    '2,C2,Geen bijzonderheden.\n'
    '3,C1,too,many,fields\n'
    '4,C3,"Ze is lid van de FNV."\n'
)
open("multiline.csv", "wb").write(text.encode("utf-8"))

# HTML e-mail bodies (HubSpot / Odoo style), tab-separated.
text = (
    "id\tnote_body\tnote_subject\n"
    "h1\t<p>Klant heeft <b>dia</b>betes</p><p>Volgende&nbsp;week bellen</p>\tbelafspraak\n"
    "h2\t<div>Pati&euml;nt met epilepsie &amp; migraine</div>\tcontrole\n"
    "h3\t<p>Factuur&nbsp;2024-117 betaald</p>\tfactuur\n"
)
open("html-notes.tsv", "wb").write(text.encode("utf-8"))
