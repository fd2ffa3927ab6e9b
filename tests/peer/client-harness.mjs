// Baileys' own client against a WhatsApp server at URL (walink's emulator), docs/protocol/peer.md#ci-recipe.
//
//   node client-harness.mjs ws://127.0.0.1:PORT/ws/chat [timeout_ms]
//
// env WA_TEST_ROOT_PUB_HEX: make Baileys' certificate check strict against that root (docs/protocol/peer.md#certificate-checks:
//   its own check ignores signature verdicts, so without this any chain would pass).
// env WA_ME_JID: start from creds with `me` set (the login path) instead of fresh creds.
// env WA_AFTER_QR=wait: do not stop at the first QR; run until the connection closes (the test
//   relays the QR to the emulator's phone meanwhile).
// stdout: one JSON line per connection.update, and one per creds.update that sets `me`.
// exit: 0 on the first QR or 'open' (or, with WA_AFTER_QR=wait, on 'open'), 1 on a close,
//   2 on timeout.
import makeWASocket, { initAuthCreds, WA_CERT_DETAILS, Curve } from '@whiskeysockets/baileys';
import { verifySignature } from 'libsignal/src/curve.js';
import pino from 'pino';

const [url, timeoutMs = '15000'] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: node client-harness.mjs WS_URL [timeout_ms]\n');
  process.exit(64);
}
if (process.env.WA_TEST_ROOT_PUB_HEX) {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(process.env.WA_TEST_ROOT_PUB_HEX, 'hex');
  // libsignal returns false for a bad signature (Baileys' wrapper only catches throws)
  Curve.verify = (pub, msg, sig) => {
    try {
      const key = pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]);
      return !!verifySignature(key, msg, sig);
    } catch {
      return false;
    }
  };
}
const waitAfterQr = process.env.WA_AFTER_QR === 'wait';
const creds = initAuthCreds();
if (process.env.WA_ME_JID) creds.me = { id: process.env.WA_ME_JID, name: 'harness' };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sock = makeWASocket({
  waWebSocketUrl: url,
  auth: { creds, keys: { get: async () => ({}), set: async () => {} } },
  logger: pino({ level: process.env.BAILEYS_LOG || 'silent' }, pino.destination(2)),
  connectTimeoutMs: 5000,
  qrTimeout: 5000,
  defaultQueryTimeoutMs: 5000,
  fireInitQueries: false,
  markOnlineOnConnect: false,
  printQRInTerminal: false,
});
let done = false;
const finish = (code) => {
  if (done) return;
  done = true;
  clearTimeout(timer);
  try { sock.end(undefined); } catch {}
  setTimeout(() => process.exit(code), 200);
};
const timer = setTimeout(() => { out({ event: 'timeout' }); finish(2); }, +timeoutMs);
sock.ev.on('creds.update', (update) => {
  if (update.me) out({ event: 'creds.update', me: update.me.id, lid: update.me.lid ?? null });
});
sock.ev.on('connection.update', (u) => {
  out({
    event: 'connection.update',
    connection: u.connection ?? null,
    qr: u.qr ?? null,
    isNewLogin: u.isNewLogin ?? null,
    error: u.lastDisconnect?.error?.message ?? null,
    status: u.lastDisconnect?.error?.output?.statusCode ?? null,
  });
  if (u.connection === 'open' || (u.qr && !waitAfterQr)) finish(0);
  else if (u.connection === 'close') finish(1);
});
