/* The kumo.documents.v1.DocumentService handler table. Everything touches
 * MySQL or kumo-storage, so every method is KUMO_RPC_BLOCKING. */
#include "documents.h"

#include "jobs/jobs.h"

#define B  KUMO_RPC_BLOCKING
#define NS KUMO_RPC_NO_SIDE_EFFECTS

static const struct kumo_rpc_method methods[] = {
    {"CreateDocument", docs_create_document, B},
    {"PresignUploadParts", docs_presign_upload_parts, B},
    {"CompleteUpload", docs_complete_upload, B},
    {"GetDocument", docs_get_document, B | NS},
    {"ListDocuments", docs_list_documents, B | NS},
    {"UpdateDocument", docs_update_document, B},
    {"ArchiveDocument", docs_archive_document, B},
    {"RestoreDocument", docs_restore_document, B},
    {"DeleteDocument", docs_delete_document, B},
    {"UndeleteDocument", docs_undelete_document, B},
    {"CreateVersion", docs_create_version, B},
    {"ListVersions", docs_list_versions, B | NS},
    {"ListAuditEvents", docs_list_audit_events, B | NS},
    {"ListDeadLetters", docs_list_dead_letters, B | NS},
    {"RedriveDeadLetter", docs_redrive_dead_letter, B},
};

void docs_service_init(struct kumo_rpc_service *svc, struct docs_ctx *ctx)
{
    svc->descriptor = &kumo__documents__v1__document_service__descriptor;
    svc->methods = methods;
    svc->n_methods = sizeof methods / sizeof methods[0];
    svc->user_data = ctx;
}
