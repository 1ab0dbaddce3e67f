// Check Relais events with nothing of Relais: Node's own Ed25519 and SHA-256, and an RFC 8785
// (JCS) library of the auditor's choosing (here the `canonicalize` npm package).
//
//   npm install canonicalize
//   node verify-log.mjs keys.json events.jsonl
//
// keys.json: the signing keys, as `relais audit keys` prints them, checked with each site's
// operator. events.jsonl: one stored message per line, {"stream", "seq", "subject", "data"}
// with "data" the stored bytes in base64, as `relais audit export` writes them; whole
// streams, in stream order, so every chain starts at its first event.
//
// Prints a JSON summary; exit status 1 if anything fails. See docs/auditing.md.

import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import canonicalize from "canonicalize";

const [keysPath, eventsPath] = process.argv.slice(2);
if (!keysPath || !eventsPath) {
  console.error("usage: node verify-log.mjs keys.json events.jsonl");
  process.exit(2);
}

const keys = new Map();
for (const entry of JSON.parse(readFileSync(keysPath, "utf8")).keys) {
  const raw = Buffer.from(entry.publickey, "base64");
  // The key id is the first 24 hex digits of the SHA-256 of the raw public key.
  const keyid = createHash("sha256").update(raw).digest("hex").slice(0, 24);
  if (keyid !== entry.keyid) throw new Error(`key id ${entry.keyid} is not its key's (${keyid})`);
  keys.set(keyid, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" }));
}

const heads = new Map(); // chain (subject without the event name) -> {version, hash}
const failures = [];
let events = 0;
const forms = {};

for (const line of readFileSync(eventsPath, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const stored = JSON.parse(line);
  const bytes = Buffer.from(stored.data, "base64");
  const fail = (problem) => failures.push({ stream: stored.stream, seq: stored.seq, problem });
  events += 1;
  let envelope;
  try {
    envelope = JSON.parse(bytes.toString("utf8"));
  } catch {
    fail("not JSON");
    continue;
  }
  const form = envelope.canonicalization ?? "legacy";
  forms[form] = (forms[form] ?? 0) + 1;

  // 1. What the signature covers.
  const { signature, ...unsigned } = envelope;
  let signed = null;
  if (form === "rfc8785") {
    signed = Buffer.from(canonicalize(unsigned), "utf8");
    if (!Buffer.from(canonicalize(envelope), "utf8").equals(bytes)) {
      fail("stored bytes are not the RFC 8785 form of the envelope");
    }
  } else if (form === "legacy") {
    // Before RFC 8785: sorted keys, no spaces. The signed bytes are the stored bytes without
    // the signature member (never the last: "source" and others sort after it).
    const member = Buffer.from(`"signature":${JSON.stringify(signature)},`, "utf8");
    const at = bytes.indexOf(member);
    if (at < 0 || bytes.indexOf(member, at + 1) >= 0) fail("legacy event: no single signature member");
    else signed = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + member.length)]);
  } else {
    fail(`unknown canonicalization ${JSON.stringify(form)}`);
  }
  const key = keys.get(envelope.keyid);
  if (!key) fail(`unknown signing key ${envelope.keyid}`);
  else if (signed && !verify(null, signed, key, Buffer.from(String(signature), "base64"))) {
    fail("bad signature");
  }

  // 2. The aggregate's hash chain: prevhash is the SHA-256 of the previous event as stored.
  const chain = stored.subject.split(".").slice(0, -1).join(".");
  const head = heads.get(chain) ?? { version: 0, hash: "" };
  if (envelope.aggregateversion !== head.version + 1) {
    fail(`chain broken: version ${envelope.aggregateversion} follows ${head.version}`);
  } else if (envelope.prevhash !== head.hash) {
    fail("chain broken: prevhash does not match the previous event");
  }
  heads.set(chain, { version: envelope.aggregateversion, hash: createHash("sha256").update(bytes).digest("hex") });
}

console.log(JSON.stringify({ ok: failures.length === 0, events, chains: heads.size, forms, failures }, null, 2));
process.exit(failures.length === 0 ? 0 : 1);
