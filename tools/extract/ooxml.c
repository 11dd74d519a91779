/* Text of Office Open XML files (DOCX, XLSX, PPTX): the parts that hold
 * the words, read from the zip with libzip and walked with libxml2's
 * streaming reader. Bounds: entries in the zip, uncompressed bytes read
 * (a zip bomb stops there, whatever its headers claim), text kept, no
 * DTDs, no network. The walk itself (which elements are text, where lines
 * break) is ours: fuzzed by tests/fuzz/fuzz_extract_ooxml.c. */
#include <libxml/xmlreader.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "extract.h"

#define MAX_ENTRIES 20000
#define MAX_PARTS   2000 /* sheets or slides read */
#define MAX_DEPTH   256

struct part_in {
    zip_file_t *zf;
    size_t *left; /* uncompressed bytes still allowed, over all parts */
    int bomb, broken;
};

static int part_read(void *ctx, char *buf, int len)
{
    struct part_in *in = ctx;
    if (*in->left == 0) {
        in->bomb = 1;
        return -1;
    }
    size_t want = (size_t)len < *in->left ? (size_t)len : *in->left;
    zip_int64_t n = zip_fread(in->zf, buf, want);
    if (n < 0) {
        in->broken = 1;
        return -1;
    }
    *in->left -= (size_t)n;
    return (int)n;
}

static int part_close(void *ctx)
{
    (void)ctx;
    return 0;
}

/* The element names that matter (local names, any namespace prefix). */
enum { K_DOCX, K_XLSX_SHARED, K_XLSX_SHEET, K_PPTX };

static int is(const xmlChar *name, const char *want)
{
    return name && strcmp((const char *)name, want) == 0;
}

/* Walks one XML part, appending its text. 0 or -1 with `why`. */
static int walk(xmlTextReaderPtr r, int kind, struct kx_out *out, const char **why)
{
    int in_text = 0;     /* depth of the text element we are in, 0: none */
    int cell_value = 0;  /* XLSX: inside <v> of a cell whose value is text */
    int cell_shared = 0; /* XLSX: current cell's value is a shared-string index */
    int ret;
    while ((ret = xmlTextReaderRead(r)) == 1) {
        if (out->text.full)
            return 0;
        int type = xmlTextReaderNodeType(r);
        int depth = xmlTextReaderDepth(r);
        if (depth > MAX_DEPTH) {
            *why = "XML nested too deeply";
            return -1;
        }
        const xmlChar *name = xmlTextReaderConstLocalName(r);
        switch (type) {
        case XML_READER_TYPE_DOCUMENT_TYPE:
        case XML_READER_TYPE_ENTITY_REFERENCE:
            *why = "DTDs and entities are not allowed in Office XML";
            return -1;
        case XML_READER_TYPE_ELEMENT: {
            int empty = xmlTextReaderIsEmptyElement(r);
            if (kind == K_DOCX && (is(name, "tab")))
                kx_text_add(&out->text, "\t", 1);
            else if (kind == K_DOCX && (is(name, "br") || is(name, "cr")))
                kx_text_add(&out->text, "\n", 1);
            else if (is(name, "t") && !empty)
                in_text = depth;
            if (kind == K_XLSX_SHEET && is(name, "c")) {
                xmlChar *t = xmlTextReaderGetAttribute(r, (const xmlChar *)"t");
                cell_shared = t && strcmp((const char *)t, "s") == 0;
                xmlFree(t);
            }
            if (kind == K_XLSX_SHEET && is(name, "v") && !empty && !cell_shared)
                cell_value = 1;
            break;
        }
        case XML_READER_TYPE_END_ELEMENT:
            if (is(name, "t") && in_text == depth)
                in_text = 0;
            else if (is(name, "v"))
                cell_value = 0;
            if (is(name, "p") || is(name, "si") || is(name, "row"))
                kx_text_add(&out->text, "\n", 1);
            else if (kind == K_XLSX_SHEET && is(name, "c"))
                kx_text_add(&out->text, " ", 1);
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (in_text || cell_value) {
                const xmlChar *v = xmlTextReaderConstValue(r);
                if (v)
                    kx_text_add(&out->text, (const char *)v, strlen((const char *)v));
            }
            break;
        default:
            break;
        }
    }
    if (ret < 0) {
        *why = "malformed XML";
        return -1;
    }
    return 0;
}

/* Reads the part `index` of the zip. */
static int read_part(zip_t *za, zip_uint64_t index, int kind, size_t *left, size_t max,
                     struct kx_out *out)
{
    zip_stat_t zs;
    if (zip_stat_index(za, index, 0, &zs) == 0 && (zs.valid & ZIP_STAT_SIZE) && zs.size > *left) {
        snprintf(out->why, sizeof out->why,
                 "zip bomb: a part declares %llu bytes uncompressed, over the %zu allowed "
                 "(KUMO_EXTRACT_ZIP_MAX)",
                 (unsigned long long)zs.size, max);
        return -1;
    }
    zip_file_t *zf = zip_fopen_index(za, index, 0);
    if (!zf) {
        snprintf(out->why, sizeof out->why, "cannot open a zip entry: %s",
                 zip_error_strerror(zip_get_error(za)));
        return -1;
    }
    struct part_in in = {zf, left, 0, 0};
    xmlTextReaderPtr r = xmlReaderForIO(part_read, part_close, &in, NULL, NULL,
                                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                            XML_PARSE_COMPACT);
    const char *why = NULL;
    int rc = -1;
    if (!r)
        why = "cannot start the XML reader";
    else
        rc = walk(r, kind, out, &why);
    if (r)
        xmlFreeTextReader(r);
    zip_fclose(zf);
    if (in.bomb)
        snprintf(out->why, sizeof out->why,
                 "zip bomb: more than %zu bytes uncompressed (KUMO_EXTRACT_ZIP_MAX)", max);
    else if (in.broken)
        snprintf(out->why, sizeof out->why, "corrupt zip entry (truncated file?)");
    else if (rc != 0)
        snprintf(out->why, sizeof out->why, "%s", why);
    return in.bomb || in.broken ? -1 : rc;
}

/* Trailing number of "prefix<N>.xml", or -1. */
static long part_number(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return -1;
    char *end;
    long v = strtol(name + n, &end, 10);
    if (end == name + n || strcmp(end, ".xml") != 0 || v < 0 || v > 1000000)
        return -1;
    return v;
}

/* The order of a part read besides the main one, or -1: Word's headers,
 * footers, then notes and comments; PowerPoint's slides, then their
 * speaker notes; Excel's sheets. */
static long extra_part(int k, const char *name, const char *numbered_prefix)
{
    const long group = 2000000;
    long num;
    if (k == K_DOCX) {
        if ((num = part_number(name, "word/header")) >= 0)
            return num;
        if ((num = part_number(name, "word/footer")) >= 0)
            return group + num;
        static const char *const notes[] = {"word/footnotes.xml", "word/endnotes.xml",
                                            "word/comments.xml"};
        for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
            if (strcmp(name, notes[i]) == 0)
                return 2 * group + (long)i;
        return -1;
    }
    if ((num = part_number(name, numbered_prefix)) >= 0)
        return num;
    if (k == K_PPTX && (num = part_number(name, "ppt/notesSlides/notesSlide")) >= 0)
        return group + num;
    return -1;
}

struct numbered {
    long num;
    zip_uint64_t index;
};

static int by_num(const void *a, const void *b)
{
    long x = ((const struct numbered *)a)->num, y = ((const struct numbered *)b)->num;
    return (x > y) - (x < y);
}

static int ooxml(zip_t *za, const char *kind, const struct kx_limits *l, struct kx_out *out)
{
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > MAX_ENTRIES) {
        snprintf(out->why, sizeof out->why, "zip has too many entries (%lld, limit %d)",
                 (long long)n, MAX_ENTRIES);
        return -1;
    }
    if (strcmp(kind, "ooxml") == 0) {
        /* Which Office file a zip is, from its parts. */
        kind = NULL;
        for (zip_int64_t i = 0; i < n && !kind; i++) {
            const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
            if (!name)
                continue;
            if (strcmp(name, "word/document.xml") == 0)
                kind = "docx";
            else if (strncmp(name, "xl/", 3) == 0)
                kind = "xlsx";
            else if (strncmp(name, "ppt/", 4) == 0)
                kind = "pptx";
        }
        if (!kind)
            return 0; /* a zip, not an Office file: no text */
    }
    int k = strcmp(kind, "docx") == 0 ? K_DOCX : strcmp(kind, "pptx") == 0 ? K_PPTX : K_XLSX_SHEET;
    const char *main_part = k == K_DOCX ? "word/document.xml" : NULL;
    const char *numbered_prefix = k == K_PPTX         ? "ppt/slides/slide"
                                  : k == K_XLSX_SHEET ? "xl/worksheets/sheet"
                                                      : NULL;
    struct numbered *parts = calloc(MAX_PARTS, sizeof *parts);
    if (!parts) {
        snprintf(out->why, sizeof out->why, "out of memory");
        return -1;
    }
    size_t n_parts = 0;
    zip_int64_t main_index = -1, shared_index = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name)
            continue;
        if (main_part && strcmp(name, main_part) == 0)
            main_index = i;
        else if (k == K_XLSX_SHEET && strcmp(name, "xl/sharedStrings.xml") == 0)
            shared_index = i;
        else if (n_parts < MAX_PARTS) {
            long num = extra_part(k, name, numbered_prefix);
            if (num >= 0)
                parts[n_parts++] = (struct numbered){num, (zip_uint64_t)i};
        }
    }
    qsort(parts, n_parts, sizeof *parts, by_num);
    size_t left = l->zip_max;
    int rc = 0;
    if (k == K_DOCX) {
        if (main_index < 0) {
            snprintf(out->why, sizeof out->why, "not a Word document (no word/document.xml)");
            rc = -1;
        } else {
            rc = read_part(za, (zip_uint64_t)main_index, K_DOCX, &left, l->zip_max, out);
        }
        /* Then headers, footers, footnotes, endnotes and comments. */
        for (size_t i = 0; rc == 0 && i < n_parts && !out->text.full; i++)
            rc = read_part(za, parts[i].index, K_DOCX, &left, l->zip_max, out);
    } else {
        if (n_parts == 0 && shared_index < 0) {
            snprintf(out->why, sizeof out->why, "no %s found in the zip",
                     k == K_PPTX ? "slides" : "worksheets");
            rc = -1;
        }
        if (rc == 0 && shared_index >= 0)
            rc = read_part(za, (zip_uint64_t)shared_index, K_XLSX_SHARED, &left, l->zip_max, out);
        for (size_t i = 0; rc == 0 && i < n_parts && !out->text.full; i++) {
            rc = read_part(za, parts[i].index, k, &left, l->zip_max, out);
            if (parts[i].num < 2000000) /* a sheet or slide, not notes */
                out->pages++;
        }
    }
    if (k == K_DOCX && rc == 0)
        out->pages = 1;
    free(parts);
    return rc;
}

int kx_ooxml_part(const uint8_t *xml, size_t len, const char *part, struct kx_out *out)
{
    int k = strcmp(part, "sheet") == 0    ? K_XLSX_SHEET
            : strcmp(part, "shared") == 0 ? K_XLSX_SHARED
            : strcmp(part, "slide") == 0  ? K_PPTX
                                          : K_DOCX;
    if (len > INT32_MAX)
        return -1;
    xmlTextReaderPtr r = xmlReaderForMemory((const char *)xml, (int)len, NULL, NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                XML_PARSE_NOWARNING | XML_PARSE_COMPACT);
    if (!r)
        return -1;
    const char *why = NULL;
    int rc = walk(r, k, out, &why);
    xmlFreeTextReader(r);
    if (rc != 0)
        snprintf(out->why, sizeof out->why, "%s", why);
    return rc;
}

static int open_fail(struct kx_out *out, zip_error_t *ze)
{
    snprintf(out->why, sizeof out->why, "not a readable zip (truncated or corrupt?): %s",
             zip_error_strerror(ze));
    return -1;
}

int kx_ooxml_fd(int fd, const char *kind, const struct kx_limits *l, struct kx_out *out)
{
    int zerr = 0;
    zip_t *za = zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        open_fail(out, &ze);
        zip_error_fini(&ze);
        return -1;
    }
    int rc = ooxml(za, kind, l, out);
    zip_discard(za);
    return rc;
}

int kx_ooxml_mem(const uint8_t *data, size_t len, const char *kind, const struct kx_limits *l,
                 struct kx_out *out)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!za) {
        if (src)
            zip_source_free(src);
        open_fail(out, &ze);
        zip_error_fini(&ze);
        return -1;
    }
    zip_error_fini(&ze);
    int rc = ooxml(za, kind, l, out);
    zip_discard(za);
    return rc;
}
