"""Macros, embedded programs and remote content in an uploaded office document.

See :mod:`.active_content`. An office file runs code through parts it holds (a macro project,
an OLE object, an ActiveX control, a web page or RTF it imports: ``afchunk.mht``) and through
relationships that fetch from elsewhere when it opens: a remote template (``attachedTemplate``
to a ``.dotm``, macros included), an external OLE object (Follina: ``mhtml:...!x-usc:``), a
frame or sub-document. So the member names, the manifest and the relationship parts
(``*.rels``, small XML: read in full, within bounds) are looked at; nothing else is expanded.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib

from lms_core.assignments.active_content import _refuse
from lms_core.errors import ValidationError

#: Member names that run code: programs, scripts, macro-enabled or legacy (macro-capable)
#: office files, web pages and RTF (what altChunk imports), OLE objects (``.bin``; printer
#: settings are the one harmless kind; an OpenDocument's ``Object 1`` with no extension).
_RUNNABLE_MEMBER = re.compile(
    r"(?:^|/)vbaproject\.bin$|(?:^|/)vbadata\.xml$|(?:^|/)(?:activex|macrosheets)/"
    r"|\.(?:exe|dll|com|scr|pif|cpl|bat|cmd|msi|ps1|vbs|vbe|js|jse|wsf|wsh|hta|jar|lnk|reg"
    r"|docm|dotm|xlsm|xltm|xlam|xlsb|pptm|potm|ppsm|ppam|doc|dot|xls|xlt|ppt|pps|bin"
    r"|mht|mhtml|html?|xhtml|rtf)$|(?:^|/)afchunk[^/]*$"
    r"|^basic/[^/]+/(?!script-lb\.xml$|dialog-lb\.xml$)[^/]+$|^scripts/|^object \d+$",
    re.IGNORECASE,
)
_HARMLESS_BIN = re.compile(r"(?:^|/)printersettings/[^/]+\.bin$", re.IGNORECASE)
#: Content types declaring macros, ActiveX controls, OLE objects, Excel 4 macro sheets, web
#: pages or RTF.
_ACTIVE_TYPES = re.compile(
    r"vbaProject|vbaData|macroEnabled|activeX|oleObject|macrosheet|vnd\.sun\.star\.basic"
    r"|vnd\.sun\.star\.oleobject|message/rfc822|text/html|application/xhtml\+xml|rtf\b",
    re.IGNORECASE,
)
#: Relationship parts read: each at most this big, this many, this much in all.
MAX_RELS_SIZE, MAX_RELS_COUNT, MAX_RELS_TOTAL = 4 << 20, 2000, 32 << 20
_RELATIONSHIP = re.compile(r"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTRIBUTE = re.compile(r"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
#: Relationship types that load something when the document opens, if the target is remote.
_LOADS = re.compile(r"/(?:oleObject|attachedTemplate|frame|subDocument|package)$", re.IGNORECASE)
#: Imported content: a web page, RTF or another document merged in when it opens.
_IMPORTS = re.compile(r"/aFChunk$", re.IGNORECASE)
#: Remote targets that are never a plain link: MHTML (Follina), files and shares, URL
#: handlers that start programs (``ms-msdt:``, ``search-ms:``), scripts.
_RISKY_TARGET = re.compile(
    r"(?:mhtml|file|ms-[a-z-]+|search-ms|javascript|vbscript):|\\\\", re.IGNORECASE
)


def _code(label: str, what: str) -> ValidationError:
    return _refuse(
        f"is {label} with {what}: documents that can run code are refused; save it without "
        "macros, embedded objects or external content (e.g. as .docx/.xlsx) and upload that"
    )


def check_office(label: str, archive: zipfile.ZipFile, manifest: str) -> None:
    """Refuse an office document with macros, ActiveX, OLE objects, programs or remote content.

    Embedded pictures and workbooks (a chart's data in a DOCX) and hyperlinks pass.
    """
    rels: list[zipfile.ZipInfo] = []
    for info in archive.infolist():
        name = info.filename
        if _RUNNABLE_MEMBER.search(name) and not _HARMLESS_BIN.search(name):
            macro = re.search(r"vba|^basic/|macrosheets/", name, re.IGNORECASE)
            raise _code(label, f"{'macros' if macro else 'an embedded program or object'} ({name})")
        if name.lower().endswith(".rels"):
            rels.append(info)
    found = _ACTIVE_TYPES.search(manifest)
    if found is not None:
        raise _refuse(
            f"is {label} that declares {found.group()} content: documents that can run code "
            "are refused; save it without macros or embedded objects and upload that"
        )
    if len(rels) > MAX_RELS_COUNT or sum(i.file_size for i in rels) > MAX_RELS_TOTAL:
        raise _refuse(f"is {label} with too many relationship parts to check; it is refused")
    for info in rels:
        if info.file_size > MAX_RELS_SIZE:
            raise _refuse(f"is {label} whose {info.filename} is too big to check; it is refused")
        try:
            text = archive.read(info).decode("utf-8", "replace")
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, zlib.error):
            raise _refuse(f"is {label} whose {info.filename} is damaged") from None
        _check_relationships(label, info.filename, text)


def _check_relationships(label: str, part: str, text: str) -> None:
    for element in _RELATIONSHIP.finditer(text):
        attrs = {
            m[1].split(":")[-1]: html.unescape(m[2] or m[3] or "")
            for m in _ATTRIBUTE.finditer(element[1])
        }
        kind, target = attrs.get("Type", ""), "".join(attrs.get("Target", "").split())
        external = attrs.get("TargetMode", "").lower() == "external"
        short = kind.rsplit("/", 1)[-1]
        if _IMPORTS.search(kind):
            raise _code(label, f"imported content ({short} in {part})")
        if external and (_LOADS.search(kind) or _RISKY_TARGET.match(target)):
            raise _code(
                label, f"external content loaded when it opens ({short} {target[:60]!r} in {part})"
            )
