// Baileys' own credential storage, for walink's interop tests (tests/auth/test_interop.py).
// Every answer carries Baileys' view as BufferJSON text, so Python compares exactly what
// Baileys holds in memory after its own useMultiFileAuthState read or write.
import { serve } from './bridge-lib.mjs';
import {
  BufferJSON,
  Curve,
  generateSignalPubKey,
  proto,
  useMultiFileAuthState,
} from '@whiskeysockets/baileys';
import { randomBytes } from 'node:crypto';

const snapshot = (value) => JSON.stringify(value, BufferJSON.replacer);

// One key of every SignalDataTypeMap type, in the shapes Baileys itself produces.
const sampleKeys = () => ({
  'pre-key': { 7: Curve.generateKeyPair(), 8: Curve.generateKeyPair() },
  session: {
    '15551234567.0': { _sessions: { [randomBytes(33).toString('base64')]: { registrationId: 42 } }, version: 'v1' },
  },
  'sender-key': {
    '120363@g.us::15551234567::0': Buffer.from(JSON.stringify([{ senderKeyId: 1 }]), 'utf-8'),
  },
  'sender-key-memory': { '120363@g.us': { '15551234567:1@s.whatsapp.net': true } },
  'app-state-sync-key': {
    AAAAAGNi: proto.Message.AppStateSyncKeyData.decode(
      proto.Message.AppStateSyncKeyData.encode({
        keyData: randomBytes(32),
        fingerprint: { rawId: 123456, currentIndex: 3, deviceIndexes: [0, 2] },
        timestamp: 1700000000123,
      }).finish(),
    ),
  },
  'app-state-sync-version': {
    regular_high: { version: 12, hash: randomBytes(128), indexValueMap: { 'aW5kZXg=': { valueMac: randomBytes(32) } } },
  },
  'lid-mapping': { '15551234567': '98765432101234', '98765432101234_reverse': '15551234567' },
  'device-list': { '15551234567': ['0', '3'] },
  tctoken: { '98765432101234@lid': { token: randomBytes(20), timestamp: '1700000000' } },
  'identity-key': { '98765432101234_1.0': generateSignalPubKey(randomBytes(32)) },
});

await serve({
  // Baileys creates a folder with initAuthCreds, fills every optional creds field as a paired
  // device would, saves it and writes one key of each type.
  write: async ({ folder }) => {
    const { state, saveCreds } = await useMultiFileAuthState(folder);
    const creds = state.creds;
    creds.me = { id: '15551234567:3@s.whatsapp.net', name: 'Walink Test', lid: '98765432101234:3@lid' };
    creds.account = proto.ADVSignedDeviceIdentity.decode(
      proto.ADVSignedDeviceIdentity.encode({
        details: randomBytes(40),
        accountSignatureKey: randomBytes(32),
        accountSignature: randomBytes(64),
      }).finish(),
    );
    creds.account.deviceSignature = randomBytes(64);
    creds.signalIdentities = [
      { identifier: { name: '98765432101234:3@lid', deviceId: 0 }, identifierKey: generateSignalPubKey(randomBytes(32)) },
    ];
    creds.platform = 'smba';
    creds.routingInfo = randomBytes(12);
    creds.pairingCode = 'ABCD1234';
    creds.lastPropHash = '3R2mXh';
    creds.myAppStateKeyId = 'AAAAAGNi';
    creds.lastAccountSyncTimestamp = 1700000000;
    creds.registered = true;
    creds.nextPreKeyId = 31;
    creds.firstUnuploadedPreKeyId = 31;
    creds.accountSyncCounter = 2;
    creds.processedHistoryMessages = [
      { key: { remoteJid: '15551234567@s.whatsapp.net', fromMe: false, id: '3EB0ABC' }, messageTimestamp: 1700000001 },
    ];
    await saveCreds();
    const keys = sampleKeys();
    await state.keys.set(keys);
    return { creds: snapshot(creds), keys: snapshot(keys) };
  },
  // Baileys opens a folder (written by walink) and reports what it holds.
  read: async ({ folder, ids }) => {
    const { state } = await useMultiFileAuthState(folder);
    const keys = {};
    for (const [type, list] of Object.entries(ids)) keys[type] = await state.keys.get(type, list);
    const spk = state.creds.signedPreKey;
    const signatureOk = Curve.verify(
      state.creds.signedIdentityKey.public,
      generateSignalPubKey(spk.keyPair.public),
      spk.signature,
    );
    return { creds: snapshot(state.creds), keys: snapshot(keys), signatureOk };
  },
  // BufferJSON round trip, for differential tests of walink.auth.bufferjson.
  bufferjson: async ({ text }) => ({ out: snapshot(JSON.parse(text, BufferJSON.reviver)) }),
});
