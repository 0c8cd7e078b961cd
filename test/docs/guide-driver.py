"""Runs the Python examples of docs/downstream-sites.md (extracted into argv[1]) on the cases given
as JSON on stdin, and prints one result per case: {"ok": ...} or {"error": "<message or code>"}.
Used by test/docs/downstream-guide.test.ts; the examples themselves are imported unchanged."""
import importlib.util
import json
import sys
import urllib.parse


def load(directory, name):
    spec = importlib.util.spec_from_file_location(name, f"{directory}/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    directory = sys.argv[1]
    cases = json.load(sys.stdin)
    handoff = load(directory, "handoff")
    webhook = load(directory, "webhook")
    seen = {}  # bnonce -> expires_at, shared by the handoff cases so a replay is seen

    def seen_nonce(bnonce, expires_at):
        if bnonce in seen:
            return True
        seen[bnonce] = expires_at
        return False

    out = {"handoff": [], "webhook": []}
    for c in cases["handoff"]:
        params = urllib.parse.parse_qs(c["query"], keep_blank_values=True)
        try:
            out["handoff"].append({"ok": handoff.verify_handoff(params, c["keys"], c["site_id"], c["nonce"], seen_nonce)})
        except handoff.HandoffError as err:
            out["handoff"].append({"error": str(err)})
    for c in cases["webhook"]:
        try:
            out["webhook"].append({"ok": webhook.verify_ban_webhook(c["secret"], c["headers"], c["body"].encode())})
        except ValueError as err:
            out["webhook"].append({"error": str(err)})
    json.dump(out, sys.stdout)


main()
