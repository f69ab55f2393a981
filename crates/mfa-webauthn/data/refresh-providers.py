#!/usr/bin/env python3
"""Regenerates passkey-providers.json from the community passkey-authenticator-aaguids list.

Usage (from this directory):

    git clone --depth 1 https://github.com/passkeydeveloper/passkey-authenticator-aaguids /tmp/aaguids
    python3 refresh-providers.py /tmp/aaguids

Reads aaguid.json at the repository's HEAD (a clone, or a bare mirror) and keeps only the AAGUID -> name pairs (no icons:
the list carries no licence, and its icons are the providers' logos), sorted by AAGUID, with
the commit and date it came from. Then run `cargo test -p mfa-webauthn providers` and commit.
"""
import json
import subprocess
import sys

repo = sys.argv[1] if len(sys.argv) > 1 else "/tmp/aaguids"
commit, date = subprocess.run(
    ["git", "-C", repo, "log", "-1", "--format=%H %cs"],
    check=True, capture_output=True, text=True,
).stdout.split()
entries = json.loads(
    subprocess.run(
        ["git", "-C", repo, "show", "HEAD:aaguid.json"],
        check=True, capture_output=True, text=True,
    ).stdout
)
out = {
    "source": "https://github.com/passkeydeveloper/passkey-authenticator-aaguids, aaguid.json",
    "commit": commit,
    "date": date,
    "licence": "The source repository states no licence. Only the factual AAGUID-to-name "
    "pairs are kept here (no icons, which are the providers' logos). The list's README: "
    "community-driven, for naming passkeys in account settings only, not for security "
    "decisions, and it may be retired (then empty).",
    "refresh": "python3 crates/mfa-webauthn/data/refresh-providers.py <checkout>",
    "providers": {k.lower(): v["name"] for k, v in sorted(entries.items())},
}
with open("passkey-providers.json", "w", encoding="utf-8") as f:
    json.dump(out, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"{len(out['providers'])} providers from {commit[:12]} ({date})")
