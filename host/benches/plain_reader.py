"""The floor a snapshot read is compared with: a plain sequential reader of the nine lists
`tke-recycle snapshot` reads, 500 objects a page, one keep-alive HTTPS connection, each page
parsed with `json.loads` and dropped. No projection, no typing: just the wire and a JSON parser.

Usage: python3 plain_reader.py KUBECONFIG
(a kubeconfig as the practice cluster writes it: one cluster with `server` and
`certificate-authority-data`, one user with a bearer `token`).
Prints `PLAIN <seconds> <objects>` on stdout.
"""

import base64
import http.client
import json
import re
import ssl
import sys
import time
import urllib.parse

LISTS = [
    "/api/v1/nodes",
    "/api/v1/persistentvolumes",
    "/api/v1/persistentvolumeclaims",
    "/apis/apps/v1/replicasets",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/statefulsets",
    "/apis/apps/v1/daemonsets",
    "/apis/policy/v1/poddisruptionbudgets",
    "/api/v1/pods",
]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        kubeconfig = f.read()

    def field(name: str) -> str:
        found = re.search(rf"^\s*{name}:\s*(\S+)\s*$", kubeconfig, re.MULTILINE)
        if not found:
            raise SystemExit(f"{sys.argv[1]}: no `{name}` (expected the practice cluster's kubeconfig)")
        return found.group(1)

    parsed = urllib.parse.urlparse(field("server"))
    token = field("token")
    ca = base64.b64decode(field("certificate-authority-data")).decode()
    context = ssl.create_default_context(cadata=ca)
    conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    started = time.perf_counter()
    objects = 0
    for path in LISTS:
        token_ = ""
        while True:
            query = {"limit": "500"}
            if token_:
                query["continue"] = token_
            conn.request("GET", f"{path}?{urllib.parse.urlencode(query)}", headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
            page = json.loads(body)
            objects += len(page.get("items") or [])
            token_ = (page.get("metadata") or {}).get("continue") or ""
            if not token_:
                break
    print(f"PLAIN {time.perf_counter() - started:.3f} {objects}")


if __name__ == "__main__":
    main()
