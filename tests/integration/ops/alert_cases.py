"""promtool unit tests of every alert in k8s/monitoring/kumo-alerts.rules.yml:
for each alert, input series that make it fire (with the labels it must
carry) and series that must leave it quiet. ops_test.py turns these into a
promtool test file per alert; annotations are derived from the rules
(they template $labels only), so a test states labels and nothing else.

Series notation is promtool's (1m steps): "0+60x20" grows by 60 a minute.
"""

J_DOC = {"job": "kumo-documents", "instance": "10.0.0.7:9102"}
J_USR = {"job": "kumo-users", "instance": "10.0.0.5:9101"}
J_STG = {"job": "kumo-storage", "instance": "10.0.0.6:9103"}
POD = {"namespace": "kumo-prod", "pod": "kumo-users-7d9f-abcde", "container": "users"}


def s(name, labels, values):
    return {"series": name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
            + "}", "values": values}


def d(*dicts, **kw):
    out = {}
    for x in dicts:
        out.update(x)
    out.update(kw)
    return out


# alert -> list of (description, series, eval_time, expected label sets or [])
CASES = {
    "KumoDaemonDown": [
        ("down 10m", [s("up", J_DOC, "0x10")], "5m", [J_DOC]),
        ("up", [s("up", J_DOC, "1x10")], "5m", []),
    ],
    "KumoDaemonNotReady": [
        ("not ready 15m", [s("kumo_ready", J_USR, "0x15")], "10m", [J_USR]),
        ("ready", [s("kumo_ready", J_USR, "1x15")], "10m", []),
    ],
    "KumoMySQLUnreachable": [
        ("db check failing", [s("kumo_readiness_check", d(J_USR, check="db"), "0x10")], "5m",
         [d(J_USR, check="db")]),
        ("every connect fails", [
            s("kumo_db_connects_total", d(J_DOC, database="kumo_documents", outcome="error"),
              "0+5x20"),
            s("kumo_db_connects_total", d(J_DOC, database="kumo_documents", outcome="ok"), "3x20")],
         "10m", [d(J_DOC, database="kumo_documents")]),
        ("db check passing, some connects fail but others work", [
            s("kumo_readiness_check", d(J_USR, check="db"), "1x10"),
            s("kumo_db_connects_total", d(J_DOC, database="kumo_documents", outcome="error"),
              "0+1x20"),
            s("kumo_db_connects_total", d(J_DOC, database="kumo_documents", outcome="ok"),
              "0+5x20")], "10m", []),
    ],
    "KumoHighErrorRate": [
        ("9% internal", [
            s("kumo_rpc_requests_total", d(J_DOC, method="/m", code="ok"), "0+60x20"),
            s("kumo_rpc_requests_total", d(J_DOC, method="/m", code="internal"), "0+6x20")],
         "15m", [{"job": "kumo-documents"}]),
        ("2% internal, and client errors do not count", [
            s("kumo_rpc_requests_total", d(J_DOC, method="/m", code="ok"), "0+60x20"),
            s("kumo_rpc_requests_total", d(J_DOC, method="/m", code="not_found"), "0+60x20"),
            s("kumo_rpc_requests_total", d(J_DOC, method="/m", code="internal"), "0+2x20")],
         "15m", []),
    ],
    "KumoBffRouteErrors": [
        ("17% 5xx on one route", [
            s("kumo_bff_requests_total", {"job": "kumo-bff", "route": "/api/v1/documents",
                                          "method": "GET", "status_class": "2xx"}, "0+60x20"),
            s("kumo_bff_requests_total", {"job": "kumo-bff", "route": "/api/v1/documents",
                                          "method": "GET", "status_class": "5xx"}, "0+12x20")],
         "15m", [{"job": "kumo-bff", "route": "/api/v1/documents", "method": "GET"}]),
        ("4xx only", [
            s("kumo_bff_requests_total", {"job": "kumo-bff", "route": "/api/v1/documents",
                                          "method": "GET", "status_class": "2xx"}, "0+60x20"),
            s("kumo_bff_requests_total", {"job": "kumo-bff", "route": "/api/v1/documents",
                                          "method": "GET", "status_class": "4xx"}, "0+60x20")],
         "15m", []),
    ],
    "KumoHighLatency": [
        ("p99 between 5 and 10 s", [
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="5"), "0+10x30"),
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="10"), "0+60x30"),
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="+Inf"), "0+60x30")],
         "20m", [{"job": "kumo-documents"}]),
        ("everything under 5 s", [
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="5"), "0+60x30"),
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="10"), "0+60x30"),
            s("kumo_rpc_duration_seconds_bucket", d(J_DOC, method="/m", le="+Inf"), "0+60x30")],
         "20m", []),
    ],
    "KumoDeadLettersWaiting": [
        ("3 waiting for 20m", [s("kumo_jobs_dead_letters", J_DOC, "3x30")], "20m",
         [{"job": "kumo-documents"}]),
        ("none", [s("kumo_jobs_dead_letters", J_DOC, "0x30")], "20m", []),
    ],
    "KumoJobsFailing": [
        ("16% errors", [
            s("kumo_jobs_total", d(J_DOC, kind="extract", outcome="ok"), "0+10x40"),
            s("kumo_jobs_total", d(J_DOC, kind="extract", outcome="error"), "0+2x40")],
         "30m", [{"job": "kumo-documents", "kind": "extract"}]),
        ("all ok", [
            s("kumo_jobs_total", d(J_DOC, kind="extract", outcome="ok"), "0+10x40"),
            s("kumo_jobs_total", d(J_DOC, kind="extract", outcome="error"), "0x40")], "30m", []),
    ],
    "KumoUploadEventsBehind": [
        ("500 behind for 20m", [s("kumo_upload_events_lag", J_DOC, "500x30")], "20m",
         [{"job": "kumo-documents"}]),
        ("catching up (reaches 0)", [s("kumo_upload_events_lag", J_DOC, "500 0 500x30")],
         "10m", []),
        ("a few behind", [s("kumo_upload_events_lag", J_DOC, "20x30")], "20m", []),
    ],
    "KumoUploadEventsNoConsumer": [
        ("no lease holder for 15m", [s("kumo_upload_events_consumer_active", J_DOC, "0x30")],
         "15m", [{"job": "kumo-documents"}]),
        ("one replica consumes", [
            s("kumo_upload_events_consumer_active", d(J_DOC, instance="a"), "0x30"),
            s("kumo_upload_events_consumer_active", d(J_DOC, instance="b"), "1x30")], "15m", []),
    ],
    "KumoUploadFailures": [
        ("16% errors", [
            s("kumo_uploads_total", d(J_DOC, outcome="completed"), "0+10x40"),
            s("kumo_uploads_total", d(J_DOC, outcome="error"), "0+2x40")],
         "30m", [{"job": "kumo-documents"}]),
        ("rejected uploads are the client's", [
            s("kumo_uploads_total", d(J_DOC, outcome="completed"), "0+10x40"),
            s("kumo_uploads_total", d(J_DOC, outcome="rejected"), "0+5x40"),
            s("kumo_uploads_total", d(J_DOC, outcome="error"), "0x40")], "30m", []),
    ],
    "KumoJwksRefreshFailing": [
        ("only failures for 30m", [
            s("kumo_jwks_refresh_total", d(J_STG, outcome="error"), "0+1x40"),
            s("kumo_jwks_refresh_total", d(J_STG, outcome="ok"), "1x40")], "30m", [J_STG]),
        ("no keys at all", [s("kumo_readiness_check", d(J_STG, check="jwks"), "0x40")], "30m",
         [d(J_STG, check="jwks")]),
        ("failures but recovering", [
            s("kumo_jwks_refresh_total", d(J_STG, outcome="error"), "0+1x40"),
            s("kumo_jwks_refresh_total", d(J_STG, outcome="ok"), "0+1x40"),
            s("kumo_readiness_check", d(J_STG, check="jwks"), "1x40")], "30m", []),
    ],
    "KumoTokenMintingFailing": [
        ("JWT signing fails", [s("kumo_jwt_sign_total", d(J_USR, outcome="error"), "0+1x20")],
         "15m", [{"job": "kumo-users"}]),
        ("RDS IAM tokens fail", [
            s("kumo_db_iam_tokens_total", d(J_DOC, outcome="no_credentials"), "0+1x20")],
         "15m", [{"job": "kumo-documents"}]),
        ("AWS credentials fail", [
            s("kumo_aws_credentials_refresh_total", d(J_DOC, source="web_identity",
                                                       outcome="error"), "0+1x20")],
         "15m", [{"job": "kumo-documents"}]),
        ("all minted", [
            s("kumo_jwt_sign_total", d(J_USR, outcome="ok"), "0+10x20"),
            s("kumo_jwt_sign_total", d(J_USR, outcome="error"), "0x20"),
            s("kumo_db_iam_tokens_total", d(J_DOC, outcome="ok"), "0+1x20")], "15m", []),
    ],
    "KumoCertificateExpiringSoon": [
        ("expires in a day", [
            s("kumo_tls_certificate_expiry_timestamp_seconds", J_USR, "86400x200")], "2h",
         [J_USR]),
        ("expires in 3 years", [
            s("kumo_tls_certificate_expiry_timestamp_seconds", J_USR, "100000000x200")], "2h",
         []),
    ],
    "KumoStorageDiskFull": [
        ("90% used", [
            s("kumo_filesystem_avail_bytes", d(J_STG, volume="storage-data"), "10x30"),
            s("kumo_filesystem_size_bytes", d(J_STG, volume="storage-data"), "100x30")], "20m",
         [d(J_STG, volume="storage-data")]),
        ("PVC 90% used (kubelet)", [
            s("kubelet_volume_stats_used_bytes", {"namespace": "kumo-local",
                                                  "persistentvolumeclaim": "kumo-storage-data"},
              "90x30"),
            s("kubelet_volume_stats_capacity_bytes", {"namespace": "kumo-local",
                                                      "persistentvolumeclaim":
                                                      "kumo-storage-data"}, "100x30")], "20m",
         [{"namespace": "kumo-local", "persistentvolumeclaim": "kumo-storage-data"}]),
        ("50% used", [
            s("kumo_filesystem_avail_bytes", d(J_STG, volume="storage-data"), "50x30"),
            s("kumo_filesystem_size_bytes", d(J_STG, volume="storage-data"), "100x30")], "20m",
         []),
    ],
    "KumoMemoryHigh": [
        ("90% of the limit", [
            s("container_memory_working_set_bytes", POD, "450x30"),
            s("kube_pod_container_resource_limits", d(POD, resource="memory"), "500x30")],
         "20m", [POD]),
        ("20% of the limit", [
            s("container_memory_working_set_bytes", POD, "100x30"),
            s("kube_pod_container_resource_limits", d(POD, resource="memory"), "500x30")],
         "20m", []),
    ],
    "KumoCpuHigh": [
        ("100% of the request", [
            s("container_cpu_usage_seconds_total", POD, "0+6x60"),
            s("kube_pod_container_resource_requests", d(POD, resource="cpu"), "0.1x60")], "50m",
         [POD]),
        ("50% of the request", [
            s("container_cpu_usage_seconds_total", POD, "0+3x60"),
            s("kube_pod_container_resource_requests", d(POD, resource="cpu"), "0.1x60")], "50m",
         []),
    ],
    "KumoDbPoolSaturated": [
        ("9 of 10 in use", [
            s("kumo_db_pool_connections", d(J_USR, database="kumo_users", state="in_use"), "9x30"),
            s("kumo_db_pool_max_connections", d(J_USR, database="kumo_users"), "10x30")], "20m",
         [d(J_USR, database="kumo_users")]),
        ("threads waiting", [
            s("kumo_db_pool_waiting", d(J_USR, database="kumo_users"), "2x30")], "20m",
         [d(J_USR, database="kumo_users")]),
        ("2 of 10 in use, nobody waits", [
            s("kumo_db_pool_connections", d(J_USR, database="kumo_users", state="in_use"), "2x30"),
            s("kumo_db_pool_max_connections", d(J_USR, database="kumo_users"), "10x30"),
            s("kumo_db_pool_waiting", d(J_USR, database="kumo_users"), "0x30")], "20m", []),
    ],
}
