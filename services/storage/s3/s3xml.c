/* S3 XML: escaping for the documents the data port writes, and parsing of
 * the one document it reads (CompleteMultipartUpload) with libxml2.
 *
 * The parser is configured so that a body can make it do nothing but parse:
 * no network (XML_PARSE_NONET), no DTD loading, no entity substitution (no
 * XML_PARSE_NOENT / XML_PARSE_DTDLOAD), no huge-document mode; a document
 * with a DOCTYPE at all is refused, and the body size was bounded by the
 * caller before it got here. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "base/alloc.h"
#include "../storage.h"

void stg_xml_escape(struct kumo_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&':
            kumo_buf_append_str(out, "&amp;");
            break;
        case '<':
            kumo_buf_append_str(out, "&lt;");
            break;
        case '>':
            kumo_buf_append_str(out, "&gt;");
            break;
        case '"':
            kumo_buf_append_str(out, "&quot;");
            break;
        case '\'':
            kumo_buf_append_str(out, "&apos;");
            break;
        default:
            kumo_buf_append_byte(out, (uint8_t)s[i]);
        }
    }
}

static int name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* Text of an element with surrounding whitespace trimmed, into out[cap]. */
static int element_text(xmlNode *n, char *out, size_t cap)
{
    xmlChar *t = xmlNodeGetContent(n);
    if (t == NULL)
        return -1;
    const char *s = (const char *)t;
    size_t len = strlen(s);
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    int rc = len < cap ? 0 : -1;
    if (rc == 0) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    xmlFree(t);
    return rc;
}

static int parse_number(const char *s, int *out)
{
    if (*s == '\0' || strlen(s) > 5)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

int stg_etag_parse(const char *s, char out[33])
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len != 32)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        out[i] = c;
    }
    out[32] = '\0';
    return 0;
}

static enum stg_err parse_part(xmlNode *part, struct stg_part *p, const char **why)
{
    char num[16] = "", etag[80] = "";
    int have_num = 0, have_etag = 0;
    for (xmlNode *c = part->children; c; c = c->next) {
        if (name_is(c, "PartNumber")) {
            if (have_num++ || element_text(c, num, sizeof num) != 0)
                break;
        } else if (name_is(c, "ETag")) {
            if (have_etag++ || element_text(c, etag, sizeof etag) != 0)
                break;
        } else if (c->type == XML_ELEMENT_NODE &&
                   strncmp((const char *)c->name, "Checksum", 8) == 0 &&
                   strcmp((const char *)c->name, "ChecksumType") != 0) {
            /* ChecksumCRC32 and kin: compared with the part's checksum
             * when the upload has that algorithm. */
            const char *alg = (const char *)c->name + 8;
            p->ck_alg = stg_ck_parse(alg, strlen(alg));
            if (p->ck_alg == STG_CK_NONE || element_text(c, p->ck, sizeof p->ck) != 0) {
                *why = "a part's checksum element is not valid";
                return STG_E_MALFORMED_XML;
            }
        }
    }
    if (have_num != 1 || have_etag != 1) {
        *why = "each Part needs exactly one PartNumber and one ETag";
        return STG_E_MALFORMED_XML;
    }
    if (parse_number(num, &p->number) != 0) {
        *why = "PartNumber must be an integer from 1 to 10000";
        return STG_E_INVALID_ARGUMENT;
    }
    if (stg_etag_parse(etag, p->etag) != 0) {
        p->etag[0] = '\0'; /* no such part can match */
    }
    return STG_OK;
}

static enum stg_err parse_root(xmlNode *root, int max_parts, struct stg_part **parts, size_t *n,
                               const char **why)
{
    if (root == NULL || !name_is(root, "CompleteMultipartUpload")) {
        *why = "the root element must be CompleteMultipartUpload";
        return STG_E_MALFORMED_XML;
    }
    size_t cap = 0;
    *parts = NULL;
    *n = 0;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (!name_is(c, "Part"))
            continue;
        if (*n >= (size_t)max_parts) {
            *why = "too many parts";
            return STG_E_INVALID_ARGUMENT;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *parts = kumo_realloc(*parts, cap * sizeof **parts);
        }
        memset(&(*parts)[*n], 0, sizeof **parts);
        enum stg_err e = parse_part(c, &(*parts)[*n], why);
        if (e != STG_OK)
            return e;
        (*n)++;
    }
    return stg_parts_check(*parts, *n, max_parts, why);
}

/* Parses a request body into *doc (free with xmlFreeDoc): no network, no
 * document type declarations (no entities to expand). STG_OK, or
 * STG_E_MALFORMED_XML with *why. */
static enum stg_err read_body(const char *body, size_t len, const char *name, xmlDocPtr *doc,
                              const char **why)
{
    if (len == 0 || len > (size_t)INT32_MAX) {
        *why = "the body is empty";
        return STG_E_MALFORMED_XML;
    }
    *doc = xmlReadMemory(body, (int)len, name, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (*doc == NULL) {
        *why = "the body is not well-formed XML";
        return STG_E_MALFORMED_XML;
    }
    if ((*doc)->intSubset != NULL || (*doc)->extSubset != NULL) {
        *why = "document type declarations are not allowed";
        xmlFreeDoc(*doc);
        *doc = NULL;
        return STG_E_MALFORMED_XML;
    }
    return STG_OK;
}

enum stg_err stg_xml_parse_complete(const char *body, size_t len, int max_parts,
                                    struct stg_part **parts, size_t *n, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    *parts = NULL;
    *n = 0;
    xmlDocPtr doc;
    enum stg_err e = read_body(body, len, "complete.xml", &doc, why);
    if (e != STG_OK)
        return e;
    e = parse_root(xmlDocGetRootElement(doc), max_parts, parts, n, why);
    xmlFreeDoc(doc);
    if (e != STG_OK) {
        kumo_free(*parts);
        *parts = NULL;
        *n = 0;
    }
    return e;
}

enum stg_err stg_parts_check(struct stg_part *parts, size_t n, int max_parts, const char **why)
{
    if (n == 0) {
        *why = "the part list is empty";
        return STG_E_MALFORMED_XML;
    }
    if (n > (size_t)max_parts) {
        *why = "too many parts";
        return STG_E_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < n; i++) {
        if (parts[i].number < 1 || parts[i].number > STG_PARTS_MAX) {
            *why = "part numbers must be from 1 to 10000";
            return STG_E_INVALID_ARGUMENT;
        }
        if (i > 0 && parts[i].number <= parts[i - 1].number) {
            *why = "parts must be listed in strictly ascending order";
            return STG_E_INVALID_PART_ORDER;
        }
    }
    return STG_OK;
}

static enum stg_err parse_tier(xmlNode *params, enum stg_tier *tier, const char **why)
{
    for (xmlNode *c = params->children; c; c = c->next) {
        char t[16];
        if (!name_is(c, "Tier"))
            continue;
        if (element_text(c, t, sizeof t) != 0) {
            *why = "Tier must be Expedited, Standard or Bulk";
            return STG_E_MALFORMED_XML;
        }
        if (strcmp(t, "Expedited") == 0)
            *tier = STG_TIER_EXPEDITED;
        else if (strcmp(t, "Standard") == 0)
            *tier = STG_TIER_STANDARD;
        else if (strcmp(t, "Bulk") == 0)
            *tier = STG_TIER_BULK;
        else {
            *why = "Tier must be Expedited, Standard or Bulk";
            return STG_E_MALFORMED_XML;
        }
    }
    return STG_OK;
}

static enum stg_err parse_restore_root(xmlNode *root, int *days, enum stg_tier *tier,
                                       const char **why)
{
    if (root == NULL || !name_is(root, "RestoreRequest")) {
        *why = "the root element must be RestoreRequest";
        return STG_E_MALFORMED_XML;
    }
    *days = 0;
    *tier = STG_TIER_STANDARD;
    for (xmlNode *c = root->children; c; c = c->next) {
        char num[16];
        if (name_is(c, "Days")) {
            if (element_text(c, num, sizeof num) != 0 || parse_number(num, days) != 0 ||
                *days < 1 || *days > STG_RESTORE_DAYS_MAX) {
                *why = "Days must be an integer from 1 to 365";
                return STG_E_MALFORMED_XML;
            }
        } else if (name_is(c, "GlacierJobParameters")) {
            enum stg_err e = parse_tier(c, tier, why);
            if (e != STG_OK)
                return e;
        } else if (c->type == XML_ELEMENT_NODE && !name_is(c, "Description")) {
            *why = "only Days and GlacierJobParameters are supported in RestoreRequest";
            return STG_E_NOT_IMPLEMENTED;
        }
    }
    if (*days == 0) {
        *why = "Days is required";
        return STG_E_MALFORMED_XML;
    }
    return STG_OK;
}

enum stg_err stg_xml_parse_restore(const char *body, size_t len, int *days, enum stg_tier *tier,
                                   const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    xmlDocPtr doc;
    enum stg_err e = read_body(body, len, "restore.xml", &doc, why);
    if (e != STG_OK)
        return e;
    e = parse_restore_root(xmlDocGetRootElement(doc), days, tier, why);
    xmlFreeDoc(doc);
    return e;
}
