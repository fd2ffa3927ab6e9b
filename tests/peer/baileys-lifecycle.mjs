// Baileys' own client through a whole connection lifecycle against a WhatsApp server at URL
// (walink's emulator): issue 9, docs/protocol/peer.md, docs/protocol/lifecycle.md#disconnect-reasons.
//
//   node baileys-lifecycle.mjs ws://127.0.0.1:PORT/ws/chat
//
// What it does, as an application built on Baileys would:
// - keeps ONE creds object (fresh `initAuthCreds()`, or the folder's saved creds), updated on every
//   `creds.update`, and a keys store that holds what it is given;
// - on a close with 515 (restartRequired) builds a NEW `makeWASocket` with the same creds: Baileys
//   never reconnects by itself (docs/protocol/lifecycle.md#disconnect-reasons); any other close is final and ends the process.
//
// env WA_TEST_ROOT_PUB_HEX: make Baileys' certificate check strict against that root (docs/protocol/peer.md#certificate-checks:
//   its own check ignores the signature verdicts, so without this any chain would pass).
// env WA_AUTH_DIR: keep creds and keys in that folder (Baileys' `useMultiFileAuthState`), so a
//   later run starts from the saved creds; without it both live in memory only.
// env WA_ME_JID: set `creds.me` before the first socket (the login path with keys the server has
//   never seen; for faults that strike before the server looks the device up).
// env WA_KEEPALIVE_MS, WA_CONNECT_TIMEOUT_MS, WA_QUERY_TIMEOUT_MS, WA_QR_TIMEOUT_MS: Baileys'
//   timers (defaults here are short, so timeouts are reached within a test).
// env WA_TIMEOUT_MS: the whole run's limit (default 30000); then {"event":"timeout"}, exit 2.
// env WA_NO_HISTORY_WAIT=1: `shouldSyncHistoryMessage: () => false`, so a first login goes Online
//   at once instead of buffering every event up to 20 s for a history sync that never comes.
// env WA_MEDIA_LOOPBACK=1: history blobs are fetched from the emulator's own loopback URL (the
//   notification's directPath) instead of Baileys' fixed media host.
// env BAILEYS_LOG: pino level for Baileys' own log, on stderr (default silent).
//
// stdout, one JSON line each (every line has "event" and "socket", the 1-based socket number):
//   {"event":"socket"}                        a new makeWASocket was built
//   {"event":"qr","qr":"https://wa.me/…"}     Baileys shows a QR (a connection.update with qr)
//   {"event":"connection.update","connection":"connecting|open|close"|null,"isNewLogin":…,
//    "pending":<receivedPendingNotifications>|null,"status":<lastDisconnect statusCode>|null,
//    "error":<message>|null}
//   {"event":"creds.update","me":<id>|null,"lid":…,"registered":…}  when an update touches `me`
//   {"event":"account-synced","accountSyncCounter":n}  the first sync after a login is done (a
//    later login with these creds does not wait for history)
//   {"event":"messages.upsert","type":"notify|append","id":…,"remoteJid":…,"participant":…,
//    "fromMe":…,"pushName":…,"text":<conversation>|null,"stub":<messageStubType>|null,
//    "stubParams":[…]|null}                 one line per message Baileys emits
//   {"event":"messaging-history.set","syncType":<HistorySyncType number>,"isLatest":…,"progress":…,
//    "chats":[id…],"contacts":[{"id","name","notify"}…],"messages":[{"id","remoteJid",
//    "participant","fromMe","text"}…]}           one line per history chunk Baileys processed
//   {"event":"pairing-code","code":"ABCD1234"} | {"event":"command-error","cmd":…,"error":…}
//   {"event":"exit","status":<final close status>|null}                 just before exiting 0
//   {"event":"uncaught","error":…}  an exception escaped Baileys (it would kill Node); exit 3
// stdin, one JSON command a line:
//   {"cmd":"requestPairingCode","phone":"<digits>"}   Baileys' requestPairingCode(phone)
//   {"cmd":"logout"}                                  sock.logout()
//   {"cmd":"end"}                                     sock.end(undefined): a final close, no error
// stdin closing counts as {"cmd":"end"}.
import makeWASocket, {
  Curve,
  DisconnectReason,
  initAuthCreds,
  useMultiFileAuthState,
  WA_CERT_DETAILS,
} from '@whiskeysockets/baileys';
import { verifySignature } from 'libsignal/src/curve.js';
import { createInterface } from 'node:readline';
import pino from 'pino';

const [url] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: node baileys-lifecycle.mjs WS_URL\n');
  process.exit(64);
}
const env = process.env;
const out = (line) => process.stdout.write(JSON.stringify({ ...line, socket: socketNumber }) + '\n');

if (env.WA_TEST_ROOT_PUB_HEX) {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(env.WA_TEST_ROOT_PUB_HEX, 'hex');
  // libsignal returns false for a bad signature; Baileys' wrapper only catches throws (docs/protocol/peer.md#certificate-checks)
  Curve.verify = (pub, msg, sig) => {
    try {
      const key = pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]);
      return !!verifySignature(key, msg, sig);
    } catch {
      return false;
    }
  };
}

// Baileys fetches history blobs from a fixed public media host (`https://mmg.whatsapp.net` +
// directPath). The emulator's directPath is its own loopback URL, so with WA_MEDIA_LOOPBACK=1 a
// fetch of that host + a loopback URL goes to the loopback URL; any other URL is refused here
// (a test never leaves this machine).
if (env.WA_MEDIA_LOOPBACK === '1') {
  const realFetch = globalThis.fetch;
  const prefix = 'https://mmg.whatsapp.net';
  globalThis.fetch = (resource, init) => {
    const url = String(resource instanceof Request ? resource.url : resource);
    const rest = url.startsWith(prefix) ? url.slice(prefix.length) : url;
    const target = new URL(rest);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
      return Promise.reject(new Error(`refused a fetch off loopback: ${url}`));
    }
    return realFetch(rest, init);
  };
}

// A keys store that holds what it is given: {type: {id: value}}, a null value deletes.
const memoryKeys = () => {
  const store = {};
  return {
    get: async (type, ids) => {
      const held = store[type] || {};
      return Object.fromEntries(ids.filter((id) => held[id] != null).map((id) => [id, held[id]]));
    },
    set: async (data) => {
      for (const [type, values] of Object.entries(data)) {
        store[type] ??= {};
        for (const [id, value] of Object.entries(values)) {
          if (value == null) delete store[type][id];
          else store[type][id] = value;
        }
      }
    },
  };
};

// Baileys' folder store writes each key file in place (truncate, then write): a process that
// exits while a write runs leaves an empty file behind. Every write is tracked, and the harness
// exits only when none is left (the phone's history can still be decrypting at "end").
const keyWrites = new Set();
const trackWrites = (store) => ({
  get: (type, ids) => store.get(type, ids),
  set: (data) => {
    const write = Promise.resolve(store.set(data));
    keyWrites.add(write);
    write.finally(() => keyWrites.delete(write)).catch(() => {});
    return write;
  },
});
const keyWritesDone = async () => {
  while (keyWrites.size) await Promise.allSettled([...keyWrites]);
};

let creds;
let keys;
let saveCreds = async () => {};
if (env.WA_AUTH_DIR) {
  const saved = await useMultiFileAuthState(env.WA_AUTH_DIR);
  creds = saved.state.creds;
  keys = trackWrites(saved.state.keys);
  saveCreds = saved.saveCreds;
} else {
  creds = initAuthCreds();
  keys = memoryKeys();
}
if (env.WA_ME_JID) creds.me = { id: env.WA_ME_JID, name: 'harness' };

const ms = (name, fallback) => (env[name] ? Number(env[name]) : fallback);
const logger = pino({ level: env.BAILEYS_LOG || 'silent' }, pino.destination(2));
let socketNumber = 0;
let sock;
let finished = false;
let pendingSave = Promise.resolve();

const finish = async (code, line) => {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  try { sock?.end(undefined); } catch {}
  await pendingSave.catch(() => {}); // the saved creds must be complete before we go
  await keyWritesDone();
  out(line);
  // a message still being decrypted may write once more: exit only with no write running
  setTimeout(() => void keyWritesDone().then(() => pendingSave.catch(() => {})).then(() => process.exit(code)), 50);
};
const timer = setTimeout(() => void finish(2, { event: 'timeout' }), ms('WA_TIMEOUT_MS', 30000));

const connect = () => {
  socketNumber += 1;
  out({ event: 'socket' });
  const thisSocket = socketNumber;
  sock = makeWASocket({
    waWebSocketUrl: url,
    auth: { creds, keys },
    logger,
    keepAliveIntervalMs: ms('WA_KEEPALIVE_MS', 30000),
    connectTimeoutMs: ms('WA_CONNECT_TIMEOUT_MS', 5000),
    defaultQueryTimeoutMs: ms('WA_QUERY_TIMEOUT_MS', 5000),
    qrTimeout: ms('WA_QR_TIMEOUT_MS', 20000),
    fireInitQueries: false,
    markOnlineOnConnect: false,
    printQRInTerminal: false,
    ...(env.WA_NO_HISTORY_WAIT === '1' ? { shouldSyncHistoryMessage: () => false } : {}),
  });
  sock.ev.on('creds.update', (update) => {
    Object.assign(creds, update); // the one creds object every socket shares
    pendingSave = pendingSave.then(() => saveCreds());
    if ('me' in update) {
      out({
        event: 'creds.update',
        me: update.me?.id ?? null,
        lid: update.me?.lid ?? null,
        registered: creds.registered ?? null,
      });
    }
    if ('accountSyncCounter' in update) {
      out({ event: 'account-synced', accountSyncCounter: update.accountSyncCounter });
    }
  });
  sock.ev.on('messages.upsert', ({ messages, type }) => {
    for (const m of messages) {
      out({
        event: 'messages.upsert',
        type,
        id: m.key?.id ?? null,
        remoteJid: m.key?.remoteJid ?? null,
        participant: m.key?.participant ?? null,
        fromMe: m.key?.fromMe ?? null,
        pushName: m.pushName ?? null,
        text: m.message?.conversation ?? null,
        stub: m.messageStubType ?? null,
        stubParams: m.messageStubParameters ?? null,
      });
    }
  });
  sock.ev.on('messaging-history.set', ({ chats, contacts, messages, isLatest, progress, syncType }) => {
    out({
      event: 'messaging-history.set',
      syncType: syncType ?? null,
      isLatest: isLatest ?? null,
      progress: progress ?? null,
      chats: chats.map((c) => c.id),
      contacts: contacts.map((c) => ({ id: c.id, name: c.name ?? null, notify: c.notify ?? null })),
      messages: messages.map((m) => ({
        id: m.key?.id ?? null,
        remoteJid: m.key?.remoteJid ?? null,
        participant: m.key?.participant ?? null,
        fromMe: m.key?.fromMe ?? null,
        text: m.message?.conversation ?? null,
      })),
    });
  });
  sock.ev.on('connection.update', (update) => {
    if (update.qr) out({ event: 'qr', qr: update.qr });
    const { qr, ...rest } = update;
    if (Object.keys(rest).length === 0) return; // a QR alone: already printed
    const status = update.lastDisconnect?.error?.output?.statusCode ?? null;
    out({
      event: 'connection.update',
      connection: update.connection ?? null,
      isNewLogin: update.isNewLogin ?? null,
      pending: update.receivedPendingNotifications ?? null,
      status,
      error: update.lastDisconnect?.error?.message ?? null,
    });
    if (update.connection !== 'close' || thisSocket !== socketNumber) return;
    // Baileys never reconnects itself: the application does, and only for a restart
    if (status === DisconnectReason.restartRequired) connect();
    else void finish(0, { event: 'exit', status });
  });
};

// Baileys lets some errors escape its handlers (e.g. a transport frame it cannot decrypt throws
// inside its frame decoder): Node would die with a stack trace only. Report it as a line instead.
process.on('uncaughtException', (error) => void finish(3, { event: 'uncaught', error: String(error?.message || error) }));

const commands = {
  requestPairingCode: async ({ phone }) => out({ event: 'pairing-code', code: await sock.requestPairingCode(phone) }),
  logout: async () => sock.logout(),
  end: async () => sock.end(undefined),
};
const input = createInterface({ input: process.stdin });
input.on('line', async (text) => {
  if (!text.trim()) return;
  let command;
  try {
    command = JSON.parse(text);
    const run = commands[command.cmd];
    if (!run) throw new Error(`unknown command ${command.cmd}`);
    await run(command);
  } catch (error) {
    out({ event: 'command-error', cmd: command?.cmd ?? null, error: String(error?.message || error) });
  }
});
// stdin closing (the test is gone) ends the run as a final close
input.on('close', () => { if (!finished) try { sock.end(undefined); } catch {} });

connect();
