#!/usr/bin/env python3
"""Checks what tests/unit/test_report.c rendered into DIR, as a receiver would.

DIR/*.json: X-ARF reports, each validated against the type schema its
category and type name. DIR/*.eml: messages, parsed with Python's email
package; DIR/*.expect holds what the message of the same name must be
(its kind, whether it carries X-ARF and the log). Prints "ok - ..." or
"not ok - ..." lines, as every test here does.
"""
import email
import email.policy
import json
import pathlib
import sys
import warnings

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent / "v4"
TYPES = {
    ("messaging", "spam"): "messaging-spam.json",
    ("connection", "port_scan"): "connection-port-scan.json",
    ("connection", "scraping"): "connection-scraping.json",
}
failures = 0


def report(passed, what):
    global failures
    print(("ok - " if passed else "not ok - ") + what)
    if not passed:
        failures += 1


def schemas():
    store = {}
    for path in [HERE / "xarf-core.json"] + sorted((HERE / "types").glob("*.json")):
        schema = json.loads(path.read_text())
        store[schema["$id"]] = schema
    return store


def validate(document, store):
    name = TYPES.get((document.get("category"), document.get("type")))
    if name is None:
        return "no schema for %s/%s" % (document.get("category"), document.get("type"))
    schema = store["https://xarf.org/schemas/v4/types/" + name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        validator = jsonschema.Draft202012Validator(
            schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
        errors = sorted(validator.iter_errors(document), key=str)
    return "; ".join(e.message for e in errors[:3])


def check_xarf(path, store):
    document = json.loads(path.read_text())
    problem = validate(document, store)
    report(problem == "", "%s validates as X-ARF %s/%s%s" % (
        path.name, document.get("category"), document.get("type"),
        "" if problem == "" else ": " + problem))


def check_mail(path, store):
    expect = json.loads(path.with_suffix(".expect").read_text())
    raw = path.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    defects = list(message.defects)
    for part in message.walk():
        defects += part.defects
    report(not defects, "%s parses without defects %s" % (path.name, defects or ""))
    report(message.is_multipart() and message.get_content_type() == "multipart/mixed",
           "%s is multipart/mixed" % path.name)
    report(message["X-Abuseguard-Kind"] == expect["kind"],
           "%s says it is a %s" % (path.name, expect["kind"]))
    report(str(message["To"]).endswith("<%s>" % expect["to"]) or str(message["To"]) == expect["to"],
           "%s goes to %s (To: %s)" % (path.name, expect["to"], message["To"]))
    report(expect["subject"] in str(message["Subject"]),
           "%s subject holds %r (%s)" % (path.name, expect["subject"], message["Subject"]))
    report(message["Message-ID"] == expect["message_id"],
           "%s has Message-ID %s" % (path.name, expect["message_id"]))
    head, _, body = raw.partition(b"\n\n")
    # Identifiers cannot be folded: RFC 5322 allows them up to 998.
    long_ids = [l for l in head.split(b"\n") if len(l) > 78 and not
                l.startswith((b"Message-ID:", b"References:", b"In-Reply-To:"))]
    report(not long_ids and all(len(line) <= 76 for line in body.split(b"\n")),
           "%s keeps header lines within 78 characters, body lines within 76 %s" % (
               path.name, long_ids or ""))
    parts = [p for p in message.iter_parts()]
    text = parts[0].get_content() if parts else ""
    report(parts and parts[0].get_content_type() == "text/plain" and expect["text"] in text,
           "%s says %r in its readable part" % (path.name, expect["text"]))
    names = [p.get_filename() for p in parts[1:]]
    report(("xarf-report.json" in names) == expect["xarf"],
           "%s %s an X-ARF part" % (path.name, "carries" if expect["xarf"] else "lacks"))
    report(("evidence.log" in names) == expect["log"],
           "%s %s the evidence log" % (path.name, "carries" if expect["log"] else "lacks"))
    for part in parts[1:]:
        if part.get_filename() == "xarf-report.json":
            document = json.loads(part.get_content())
            problem = validate(document, store)
            report(problem == "", "%s: its X-ARF part validates%s" % (
                path.name, "" if problem == "" else ": " + problem))
        if part.get_filename() == "evidence.log":
            report(part.get_content() == expect["log_text"],
                   "%s: the attached log is the ticket's log, byte for byte" % path.name)


def main():
    directory = pathlib.Path(sys.argv[1])
    store = schemas()
    for path in sorted(directory.glob("*.json")):
        check_xarf(path, store)
    for path in sorted(directory.glob("*.eml")):
        check_mail(path, store)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
