// Bridge to libsignal-node (the Signal library the pinned Baileys uses) and Baileys' sender-key
// classes, for tests/protocol/signal and benchmarks/signal.py. Bytes travel as hex strings.
// A "party" is one device with an in-memory store shaped like Baileys' (signed pre-key and
// one-time pre-key public keys 32 bytes, our identity 33); sessions are kept as the JSON text
// Baileys writes (SessionRecord.serialize()), sender keys as the Buffer Baileys stores.
import { SessionBuilder, SessionCipher, SessionRecord, ProtocolAddress } from 'libsignal';
import {
  GroupCipher, GroupSessionBuilder, SenderKeyDistributionMessage, SenderKeyName, SenderKeyRecord,
} from '@whiskeysockets/baileys/lib/Signal/Group/index.js';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { serve } from './bridge-lib.mjs';

// libsignal logs session changes with console.info/log: keep stdout for the JSON replies.
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

const hex = (b) => Buffer.from(b).toString('hex');
const buf = (h) => Buffer.from(h, 'hex');
const prefixed = (pub) => (pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]));
const parties = new Map();

function makeParty({ identityPriv, identityPub, regId, signedPreKey, preKeys, keepPreKeys, cacheRecords }) {
  const sessions = new Map(); // address -> JSON text (or a SessionRecord when cacheRecords)
  const senderKeys = new Map(); // name -> Buffer (Baileys' stored value)
  const pre = new Map((preKeys || []).map((k) => [k.id, { privKey: buf(k.priv), pubKey: buf(k.pub) }]));
  const storage = {
    getOurIdentity: () => ({ privKey: buf(identityPriv), pubKey: prefixed(buf(identityPub)) }),
    getOurRegistrationId: () => regId,
    isTrustedIdentity: () => true,
    loadPreKey: (id) => pre.get(id),
    removePreKey: (id) => { if (!keepPreKeys) pre.delete(id); },
    loadSignedPreKey: () => ({ privKey: buf(signedPreKey.priv), pubKey: buf(signedPreKey.pub) }),
    loadSession: (addr) => {
      const stored = sessions.get(addr);
      if (stored === undefined) return undefined;
      return cacheRecords ? stored : SessionRecord.deserialize(JSON.parse(stored));
    },
    storeSession: (addr, record) => {
      sessions.set(addr, cacheRecords ? record : JSON.stringify(record.serialize()));
    },
    loadSenderKey: (name) => {
      const stored = senderKeys.get(name.toString());
      return stored ? SenderKeyRecord.deserialize(stored) : new SenderKeyRecord();
    },
    storeSenderKey: (name, record) => {
      senderKeys.set(name.toString(), Buffer.from(JSON.stringify(record.serialize()), 'utf-8'));
    },
  };
  return { storage, sessions, senderKeys, pre, cacheRecords };
}

const address = (a) => ProtocolAddress.from(a);
const party = (name) => {
  const p = parties.get(name);
  if (!p) throw new Error('unknown party ' + name);
  return p;
};
const senderKeyName = (name) => new SenderKeyName(name, { id: 'sender', deviceId: 0, toString: () => 'sender.0' });

async function decrypt(p, addr, type, body) {
  const cipher = new SessionCipher(p.storage, address(addr));
  return type === 'pkmsg' ? cipher.decryptPreKeyWhisperMessage(body) : cipher.decryptWhisperMessage(body);
}

await serve({
  party: async (req) => { parties.set(req.name, makeParty(req)); return {}; },
  startSession: async ({ party: name, address: addr, bundle }) => {
    const device = {
      identityKey: prefixed(buf(bundle.identityKey)),
      registrationId: bundle.registrationId,
      signedPreKey: { keyId: bundle.signedPreKeyId, publicKey: prefixed(buf(bundle.signedPreKey)), signature: buf(bundle.signature) },
    };
    if (bundle.preKey) device.preKey = { keyId: bundle.preKeyId, publicKey: prefixed(buf(bundle.preKey)) };
    await new SessionBuilder(party(name).storage, address(addr)).initOutgoing(device);
    return {};
  },
  encrypt: async ({ party: name, address: addr, plaintext }) => {
    const { type, body } = await new SessionCipher(party(name).storage, address(addr)).encrypt(buf(plaintext));
    return { type: type === 3 ? 'pkmsg' : 'msg', body: hex(Buffer.from(body, 'binary')) };
  },
  decrypt: async ({ party: name, address: addr, type, body }) => ({
    plaintext: hex(await decrypt(party(name), addr, type, buf(body))),
  }),
  getSession: async ({ party: name, address: addr }) => {
    const stored = party(name).sessions.get(addr);
    if (stored === undefined) return { json: null };
    return { json: typeof stored === 'string' ? stored : JSON.stringify(stored.serialize()) };
  },
  setSession: async ({ party: name, address: addr, json }) => {
    const p = party(name);
    p.sessions.set(addr, p.cacheRecords ? SessionRecord.deserialize(JSON.parse(json)) : json);
    return {};
  },
  // A party's session written into / read from an auth folder by Baileys' own multi-file store.
  saveToFolder: async ({ party: name, address: addr, folder }) => {
    const { state } = await useMultiFileAuthState(folder);
    const stored = party(name).sessions.get(addr);
    const json = typeof stored === 'string' ? stored : JSON.stringify(stored.serialize());
    await state.keys.set({ session: { [addr]: JSON.parse(json) } });
    return {};
  },
  loadFromFolder: async ({ party: name, address: addr, folder }) => {
    const { state } = await useMultiFileAuthState(folder);
    const { [addr]: value } = await state.keys.get('session', [addr]);
    if (!value) throw new Error('no session ' + addr + ' in ' + folder);
    const p = party(name);
    const record = SessionRecord.deserialize(value);
    p.sessions.set(addr, p.cacheRecords ? record : JSON.stringify(record.serialize()));
    return {};
  },
  hasPreKey: async ({ party: name, keyId }) => ({ present: party(name).pre.has(keyId) }),
  skCreate: async ({ party: name, group }) => {
    const skdm = await new GroupSessionBuilder(party(name).storage).create(senderKeyName(group));
    return { skdm: hex(skdm.serialize()) };
  },
  skProcess: async ({ party: name, group, skdm }) => {
    const message = new SenderKeyDistributionMessage(null, null, null, null, buf(skdm));
    await new GroupSessionBuilder(party(name).storage).process(senderKeyName(group), message);
    return {};
  },
  skEncrypt: async ({ party: name, group, plaintext }) => ({
    body: hex(await new GroupCipher(party(name).storage, senderKeyName(group)).encrypt(buf(plaintext))),
  }),
  skDecrypt: async ({ party: name, group, body }) => ({
    plaintext: hex(await new GroupCipher(party(name).storage, senderKeyName(group)).decrypt(buf(body))),
  }),
  skGet: async ({ party: name, group }) => ({ value: hex(party(name).senderKeys.get(senderKeyName(group).toString()) ?? Buffer.alloc(0)) }),
  skSet: async ({ party: name, group, value }) => { party(name).senderKeys.set(senderKeyName(group).toString(), buf(value)); return {}; },
  // Decrypt `bodies` `rounds` times, each round from the state saved before the first; returns
  // the seconds spent in libsignal/Baileys only. kind: msg (one address), pkmsg (a fresh
  // address per message), skmsg (one sender key).
  bench: async ({ party: name, address: addr, group, kind, bodies, rounds }) => {
    const p = party(name);
    const messages = bodies.map(buf);
    const savedSession = p.sessions.get(addr);
    const savedSenderKey = group && p.senderKeys.get(senderKeyName(group).toString());
    let seconds = 0;
    for (let round = 0; round < rounds; round++) {
      if (savedSession !== undefined) p.sessions.set(addr, cloneSession(savedSession));
      if (savedSenderKey) p.senderKeys.set(senderKeyName(group).toString(), savedSenderKey);
      const cipher = group ? new GroupCipher(p.storage, senderKeyName(group)) : null;
      const start = process.hrtime.bigint();
      for (let i = 0; i < messages.length; i++) {
        if (kind === 'skmsg') await cipher.decrypt(messages[i]);
        else if (kind === 'pkmsg') await decrypt(p, `bench${round}_${i}.0`, 'pkmsg', messages[i]);
        else await decrypt(p, addr, 'msg', messages[i]);
      }
      seconds += Number(process.hrtime.bigint() - start) / 1e9;
    }
    return { seconds, count: messages.length * rounds };
  },
});

function cloneSession(stored) {
  return typeof stored === 'string' ? stored : SessionRecord.deserialize(JSON.parse(JSON.stringify(stored.serialize())));
}
