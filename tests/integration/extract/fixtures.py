"""Fixtures of the extract suite and bench, generated (nothing binary is
checked in): PDFs with a text layer drawn by cairo (python3-cairo, the
IPA Gothic and DejaVu fonts of Debian), a scanned PDF and PNGs of text
drawn by PIL (python3-pil), DOCX/XLSX/PPTX zipped from minimal XML with
zipfile, and hostile files: a PDF whose content expands to
tens of gigabytes, a PDF whose page tree loops, a PDF nested 10000 arrays
deep (poppler stops at 500),
a zip-bomb DOCX, a truncated DOCX, a 20000x20000 PNG."""
import io
import struct
import zipfile
import zlib

JP_FONT = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
EN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def pdf_text(lines, pages=1, font="IPAGothic", size=(595, 842)):
    """A PDF whose pages carry `lines` as real text (cairo embeds the font
    with a ToUnicode map, so poppler reads the words back)."""
    import cairo
    buf = io.BytesIO()
    surf = cairo.PDFSurface(buf, size[0], size[1])
    cr = cairo.Context(surf)
    for p in range(pages):
        cr.set_source_rgb(0, 0, 0)
        cr.select_font_face(font)
        cr.set_font_size(18)
        y = 60
        for line in lines:
            cr.move_to(40, y)
            cr.show_text(line if pages == 1 else "%s (page %d)" % (line, p + 1))
            y += 30
        cr.show_page()
    surf.finish()
    return buf.getvalue()


def png_text(lines, size=(1400, 400), font_size=48):
    """A PNG of black English text on white, like a scan."""
    from PIL import Image, ImageDraw, ImageFont
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(EN_FONT, font_size)
    y = 40
    for line in lines:
        d.text((40, y), line, font=f, fill=0)
        y += font_size + 24
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def pdf_scan(lines):
    """A PDF with no text layer: one page that is a picture of text."""
    from PIL import Image
    im = Image.open(io.BytesIO(png_text(lines, size=(1654, 600), font_size=56)))
    out = io.BytesIO()
    im.convert("RGB").save(out, "PDF", resolution=200.0)
    return out.getvalue()


CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="xml" ContentType="application/xml"/></Types>')
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"


def _zip(parts, method=zipfile.ZIP_DEFLATED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        z.writestr("[Content_Types].xml", CT)
        for name, data in parts:
            z.writestr(name, data)
    return out.getvalue()


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx(paragraphs, footnote=None):
    body = "".join('<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % _esc(p)
                   for p in paragraphs)
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<w:document xmlns:w="%s"><w:body>%s</w:body></w:document>' % (W, body))
    parts = [("word/document.xml", doc)]
    if footnote:
        parts.append(("word/footnotes.xml",
                      '<w:footnotes xmlns:w="%s"><w:footnote><w:p><w:r><w:t>%s</w:t></w:r>'
                      '</w:p></w:footnote></w:footnotes>' % (W, _esc(footnote))))
    return _zip(parts)


def xlsx(shared, inline=()):
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="%s" count="%d">%s</sst>'
           % (S, len(shared), "".join("<si><t>%s</t></si>" % _esc(s) for s in shared)))
    cells = "".join('<c r="A%d" t="s"><v>%d</v></c>' % (i + 1, i) for i in range(len(shared)))
    cells += "".join('<c r="B%d" t="inlineStr"><is><t>%s</t></is></c>' % (i + 1, _esc(s))
                     for i, s in enumerate(inline))
    cells += '<c r="C1"><v>42.5</v></c>'
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="%s"><sheetData>'
             '<row r="1">%s</row></sheetData></worksheet>' % (S, cells))
    return _zip([("xl/sharedStrings.xml", sst), ("xl/worksheets/sheet1.xml", sheet)])


def pptx(slides):
    parts = []
    for i, text in enumerate(slides):
        parts.append(("ppt/slides/slide%d.xml" % (i + 1),
                      '<?xml version="1.0"?><p:sld xmlns:a="%s" xmlns:p="p"><a:p><a:r><a:t>%s'
                      '</a:t></a:r></a:p></p:sld>' % (A, _esc(text))))
    return _zip(parts)


# ---- hostile ---------------------------------------------------------------

def _pdf(objects, root=1):
    """A PDF from object bodies (1-based), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offs = []
    for i, body in enumerate(objects):
        offs.append(out.tell())
        out.write(b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for o in offs:
        out.write(b"%010d 00000 n \n" % o)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, root, xref))
    return out.getvalue()


def pdf_expanding(mib=64, refs=1000):
    """One page whose content is the same stream (`mib` MiB of path
    operators once inflated, ~1000:1 compressed) referenced `refs` times:
    tens of GiB to read, from a file of about a hundred KB per 64 MiB. It
    runs until a bound stops it."""
    c = zlib.compressobj(9)
    chunk = b"0 0 m 1 1 l S\n" * 65536
    parts = [c.compress(chunk) for _ in range((mib << 20) // len(chunk))]
    parts.append(c.flush())
    data = b"".join(parts)
    contents = b"[" + b" ".join([b"4 0 R"] * refs) + b"]"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + contents + b" >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data +
        b"\nendstream",
    ])


def pdf_loop():
    """A page tree whose Kids point back at itself."""
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Parent 2 0 R /Count 2 >>",
    ])


def pdf_nested(depth=10000):
    """An object nested `depth` arrays deep."""
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Deep " + b"[" * depth + b"]" * depth + b" >>",
        b"<< /Type /Pages /Kids [" + b"[" * depth + b"]" * depth + b"] /Count 1 >>",
    ])


def docx_bomb(mib=256):
    """A DOCX whose document.xml inflates to `mib` MiB (~2 KB per MiB zipped)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CT)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(('<?xml version="1.0"?><w:document xmlns:w="%s"><w:body><w:p><w:r><w:t>x'
                     % W).encode())
            chunk = b"<w:bookmarkEnd/>" * (1 << 16)
            for _ in range(mib):
                f.write(chunk)
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()
    return out.getvalue()


def docx_truncated():
    d = docx(["the rest of this document was lost in transit " * 50])
    return d[: len(d) * 2 // 3]


def png_huge(w=20000, h=20000):
    """A valid PNG of w x h white gray pixels: a few hundred KB compressed,
    400 MB decoded."""
    def chunk(t, data):
        return (struct.pack(">I", len(data)) + t + data +
                struct.pack(">I", zlib.crc32(t + data) & 0xffffffff))
    c = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * w
    idat = b"".join(c.compress(row) for _ in range(h)) + c.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))
