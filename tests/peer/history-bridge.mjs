// Bridge to Baileys' history sync code, for tests/protocol/test_history_peer.py and
// benchmarks/history.py. Bytes travel as hex strings.
//
// - makeBlob: Baileys builds a HistorySync with its own protobufs, deflates it, encrypts it with
//   encryptedStream(…, 'md-msg-hist') and describes it in a HistorySyncNotification Message.
// - process: Baileys reads a notification Message (ours), downloads its blob through its own
//   downloadContentFromMessage (from a data: URL, so no network), inflates, decodes and runs
//   processHistoryMessage, or takes the inline payload with downloadAndProcessHistorySyncNotification.
import { readFile, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { deflate, inflate } from 'node:zlib';
import {
  proto, encryptedStream, getHistoryMsg, processHistoryMessage,
  downloadAndProcessHistorySyncNotification, downloadContentFromMessage,
  decodeMessageNode, cleanMessage,
} from '@whiskeysockets/baileys';
import { serve } from './bridge-lib.mjs';

const hex = (b) => Buffer.from(b).toString('hex');
const buf = (h) => Buffer.from(h, 'hex');
const deflateP = promisify(deflate);
const inflateP = promisify(inflate);
const num = (v) => (v == null ? null : Number(v));

const summarize = (data) => ({
  syncType: data.syncType,
  progress: num(data.progress),
  chats: data.chats.map((c) => ({
    id: c.id, name: c.name ?? null, unreadCount: num(c.unreadCount),
    newestId: c.messages?.[0]?.message?.key?.id ?? null,
  })),
  contacts: data.contacts.map((c) => ({ id: c.id, name: c.name ?? null, notify: c.notify ?? null })),
  messages: data.messages.map((m) => ({
    remoteJid: m.key.remoteJid, fromMe: !!m.key.fromMe, id: m.key.id,
    participant: m.key.participant || null,
    text: m.message?.conversation ?? m.message?.extendedTextMessage?.text ?? null,
    timestamp: num(m.messageTimestamp),
  })),
});

await serve({
  // items: [{attrs}] with meId/meLid -> the key Baileys derives (after cleanMessage), or an error
  stanzaKeys: async ({ items, meId, meLid }) => ({
    keys: items.map(({ attrs }) => {
      try {
        const { fullMessage } = decodeMessageNode({ tag: 'message', attrs, content: [] }, meId, meLid);
        cleanMessage(fullMessage, meId, meLid);
        const k = fullMessage.key;
        return {
          remoteJid: k.remoteJid, fromMe: !!k.fromMe, id: k.id, participant: k.participant || null,
          timestamp: fullMessage.messageTimestamp, pushName: fullMessage.pushName ?? null,
        };
      } catch (e) {
        return { error: String(e?.message || e) };
      }
    }),
  }),
  // spec: {syncType, chunkOrder, progress, chats: [{id, name, messages: [{id, text, ts, fromMe}]}]}
  makeBlob: async ({ spec }) => {
    const sync = proto.HistorySync.encode({
      syncType: spec.syncType,
      chunkOrder: spec.chunkOrder,
      progress: spec.progress,
      conversations: spec.chats.map((c) => ({
        id: c.id,
        name: c.name,
        messages: c.messages.map((m, i) => ({
          msgOrderId: i + 1,
          message: {
            key: { remoteJid: c.id, fromMe: m.fromMe, id: m.id },
            message: { conversation: m.text },
            messageTimestamp: m.ts,
          },
        })),
      })),
    }).finish();
    const compressed = await deflateP(sync);
    const enc = await encryptedStream(compressed, 'md-msg-hist');
    const data = await readFile(enc.encFilePath);
    await unlink(enc.encFilePath);
    const message = proto.Message.encode({
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
        historySyncNotification: {
          fileSha256: enc.fileSha256,
          fileLength: enc.fileLength,
          mediaKey: enc.mediaKey,
          fileEncSha256: enc.fileEncSha256,
          directPath: '/v/t62.7119-24/walink-test.enc?ccb=11-4',
          syncType: spec.syncType,
          chunkOrder: spec.chunkOrder,
          progress: spec.progress,
        },
      },
    }).finish();
    return { blob: hex(data), message: hex(message), historySync: hex(sync) };
  },
  // message: a Message with a history notification; blob: its encrypted file when not inline
  process: async ({ message, blob }) => {
    const msg = proto.Message.decode(buf(message));
    const notification = getHistoryMsg(msg);
    if (!notification) throw new Error('no history notification');
    let data;
    if (notification.initialHistBootstrapInlinePayload?.length) {
      data = await downloadAndProcessHistorySyncNotification(notification, {});
    } else {
      const url = 'data:application/octet-stream;base64,' + buf(blob).toString('base64');
      const stream = await downloadContentFromMessage(
        { mediaKey: notification.mediaKey, url }, 'md-msg-hist');
      const parts = [];
      for await (const part of stream) parts.push(part);
      const sync = proto.HistorySync.decode(await inflateP(Buffer.concat(parts)));
      data = processHistoryMessage(sync);
    }
    return {
      notification: {
        syncType: notification.syncType, chunkOrder: num(notification.chunkOrder),
        progress: num(notification.progress),
      },
      ...summarize(data),
    };
  },
});
