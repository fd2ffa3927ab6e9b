// Bridge to libsignal's curve (what Baileys signs and verifies with) and Baileys' payload builders,
// for tests/protocol/test_keys.py, test_certs.py and test_payload.py. Bytes travel as hex strings.
import { calculateSignature, verifySignature, generateKeyPair } from 'libsignal/src/curve.js';
import {
  Curve, signedKeyPair, proto, generateLoginNode, generateRegistrationNode, DEFAULT_CONNECTION_CONFIG,
} from '@whiskeysockets/baileys';
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { serve } from './bridge-lib.mjs';

const hex = (b) => Buffer.from(b).toString('hex');
const buf = (h) => Buffer.from(h, 'hex');

// libsignal's own answer (true/false), not Baileys' Curve.verify wrapper, which returns true for any
// well-formed input. A throw (malformed input) is reported as the string 'throws'.
const strictVerify = (pub, msg, sig) => {
  try {
    return verifySignature(pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]), msg, sig);
  } catch {
    return 'throws';
  }
};

// Baileys' schema source, loaded by reflection (the static WAProto/index.js has no field tables).
let schemaRoot;
const baileysSchema = () => {
  if (!schemaRoot) {
    const require = createRequire(import.meta.url);
    const protoFile = require.resolve('@whiskeysockets/baileys/WAProto/WAProto.proto');
    schemaRoot = protobuf.loadSync(protoFile).resolveAll();
  }
  return schemaRoot;
};

await serve({
  // items: [{priv, msg}] -> signatures made by libsignal (deterministic curve25519-js sign)
  sign: async ({ items }) => ({ sigs: items.map(({ priv, msg }) => hex(calculateSignature(buf(priv), buf(msg)))) }),
  // items: [{pub, msg, sig}] -> libsignal's verdicts
  verify: async ({ items }) => ({ results: items.map(({ pub, msg, sig }) => strictVerify(buf(pub), buf(msg), buf(sig))) }),
  // n fresh key pairs from libsignal (node:crypto X25519), public without the 05 prefix
  generate: async ({ n }) => ({
    pairs: Array.from({ length: n }, () => {
      const { pubKey, privKey } = generateKeyPair();
      return { priv: hex(privKey), pub: hex(pubKey.subarray(1)) };
    }),
  }),
  // Baileys' signedKeyPair(identity, keyId)
  signedKeyPair: async ({ priv, pub, keyId }) => {
    const s = signedKeyPair({ private: buf(priv), public: buf(pub) }, keyId);
    return { priv: hex(s.keyPair.private), pub: hex(s.keyPair.public), sig: hex(s.signature), keyId: s.keyId };
  },
  // The certificate part of Baileys' processHandshake (lib/Utils/noise-handler.js), made strict
  // the way docs/protocol/peer.md#certificate-checks patches it: Curve.verify -> libsignal's real verdict, WA root -> `root`.
  baileysCertCheck: async ({ chain, root }) => {
    const rootKey = buf(root);
    const verify = (pub, msg, sig) => strictVerify(Buffer.from(pub), Buffer.from(msg), Buffer.from(sig)) === true;
    const { intermediate: certIntermediate, leaf } = proto.CertChain.decode(buf(chain));
    if (!leaf?.details || !leaf?.signature) throw new Error('invalid noise leaf certificate');
    if (!certIntermediate?.details || !certIntermediate?.signature) throw new Error('invalid noise intermediate certificate');
    const details = proto.CertChain.NoiseCertificate.Details.decode(certIntermediate.details);
    if (!verify(details.key, leaf.details, leaf.signature)) throw new Error('noise certificate signature invalid');
    if (!verify(rootKey, certIntermediate.details, certIntermediate.signature)) throw new Error('noise intermediate certificate signature invalid');
    if (details.issuerSerial !== 0) throw new Error('certification match failed');
    const leafDetails = proto.CertChain.NoiseCertificate.Details.decode(leaf.details);
    return { leafKey: hex(leafDetails.key), issuerSerial: details.issuerSerial };
  },
  // The peer's own defaults, which payload tests must feed to both sides (docs/protocol/handshake.md#payload-version).
  payloadDefaults: async () => {
    const { version, browser, countryCode, syncFullHistory } = DEFAULT_CONNECTION_CONFIG;
    return { version, browser, countryCode, syncFullHistory };
  },
  // generateLoginNode(jid, config) encoded; config overrides DEFAULT_CONNECTION_CONFIG
  loginPayload: async ({ jid, config }) => {
    const node = generateLoginNode(jid, { ...DEFAULT_CONNECTION_CONFIG, ...config });
    return { payload: hex(proto.ClientPayload.encode(node).finish()) };
  },
  // generateRegistrationNode(creds, config) encoded
  registrationPayload: async ({ registrationId, identityPub, preKeyId, preKeyPub, preKeySig, config }) => {
    const creds = {
      registrationId,
      signedIdentityKey: { public: buf(identityPub) },
      signedPreKey: { keyId: preKeyId, keyPair: { public: buf(preKeyPub) }, signature: buf(preKeySig) },
    };
    const node = generateRegistrationNode(creds, { ...DEFAULT_CONNECTION_CONFIG, ...config });
    return { payload: hex(proto.ClientPayload.encode(node).finish()) };
  },
  // Field tables of Baileys' WAProto.proto. messages/enums: full names like 'proto.CertChain'.
  // A name Baileys does not have comes back as null.
  schema: async ({ messages, enums }) => {
    const root = baileysSchema();
    const lookup = (name, kind) => { try { return root[kind](name); } catch { return null; } };
    const fields = (type) => Object.values(type.fields).map((f) => ({
      name: f.name, id: f.id, type: f.resolvedType ? f.resolvedType.fullName : f.type,
      repeated: f.repeated, packed: f.repeated ? f.packed : null,
    }));
    return {
      messages: Object.fromEntries(messages.map((n) => { const t = lookup(n, 'lookupType'); return [n, t && fields(t)]; })),
      enums: Object.fromEntries(enums.map((n) => { const e = lookup(n, 'lookupEnum'); return [n, e && e.values]; })),
    };
  },
  // Baileys' wrapper, to document that it is shape-only
  curveVerify: async ({ pub, msg, sig }) => ({ result: Curve.verify(buf(pub), buf(msg), buf(sig)) }),
});
