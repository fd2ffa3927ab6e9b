// Baileys side of benchmarks/codec.py: the same corpus, the same loops, one pass timed per request.
// usage: node bench-codec.mjs CORPUS.json   (CORPUS.json: a list of codec-bridge nodes), then
// JSON lines on stdin (bridge-lib.mjs):
//   {"id", "op": "time", "loop": NAME}  -> {"s": CPU seconds of one pass over the corpus}
// NAME: encode, decode, decode_sync, frame, frame_sync. benchmarks/codec.py asks for one pass at a
// time, interleaved with its own passes, so that the machine's load falls on both sides alike;
// it keeps the least time of each side's rounds after a warm-up pass.
// Two decoders: decodeBinaryNode (async, what Baileys' socket awaits per frame) and
// decodeDecompressedBinaryNode (sync, its fastest: no promise per node); *_sync loops use the latter.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { encodeBinaryNode, decodeBinaryNode, aesEncryptGCM, aesDecryptGCM } from '@whiskeysockets/baileys';
import * as constants from '@whiskeysockets/baileys/lib/WABinary/constants.js';
import { decodeDecompressedBinaryNode } from '@whiskeysockets/baileys/lib/WABinary/decode.js';
import { toJs } from './codec-bridge.mjs';
import { serve } from './bridge-lib.mjs';

const nodes = JSON.parse(readFileSync(process.argv[2], 'utf-8')).map(toJs);
const encoded = nodes.map((n) => encodeBinaryNode(n));
// The sync decoder takes the node bytes after the flags byte. They are cut off here, outside the
// timed loop: its callers already hold them (decodeBinaryNode slices them off itself, and that
// slice stays in the async loop, as the flags check stays in walink's decode_node).
const bodies = encoded.map((b) => b.subarray(1));
const key = randomBytes(32);
const EMPTY = Buffer.alloc(0);

// the transport IV as Baileys builds it: 8 zero bytes and a 32-bit big-endian counter
const ivFor = (counter) => {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter >>> 0, 8);
  return iv;
};

// encode, AES-GCM encrypt, 3-byte length frame, unframe, decrypt: the frame path up to decoding
const sealAndOpen = (n, counter) => {
  const iv = ivFor(counter);
  const sealed = aesEncryptGCM(encodeBinaryNode(n), key, iv, EMPTY);
  const frame = Buffer.alloc(3 + sealed.length);
  frame.writeUIntBE(sealed.length, 0, 3);
  sealed.copy(frame, 3);
  const size = frame.readUIntBE(0, 3);
  return aesDecryptGCM(frame.subarray(3, 3 + size), key, iv, EMPTY);
};

const loops = {
  encode: async () => { for (const n of nodes) encodeBinaryNode(n); },
  decode: async () => { for (const b of encoded) await decodeBinaryNode(b); },
  decode_sync: async () => { for (const b of bodies) decodeDecompressedBinaryNode(b, constants); },
  frame: async () => {
    let counter = 0;
    for (const n of nodes) await decodeBinaryNode(sealAndOpen(n, counter++));
  },
  // the decrypted plaintext is uncompressed (flags byte 00): skipping it is all the async path adds
  frame_sync: async () => {
    let counter = 0;
    for (const n of nodes) decodeDecompressedBinaryNode(sealAndOpen(n, counter++).subarray(1), constants);
  },
};

// Process CPU time, as benchmarks/codec.py times walink (time.process_time): load from other
// processes does not count, and once the JIT has warmed up V8's helper threads add well under 1 %.
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

await serve({
  time: async ({ loop }) => {
    const run = loops[loop];
    if (!run) throw new Error('unknown loop ' + loop);
    const start = cpuSeconds();
    await run();
    return { s: cpuSeconds() - start };
  },
});
