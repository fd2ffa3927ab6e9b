// Baileys side of benchmarks/codec.py: the same corpus, the same three loops, timed here.
// usage: node bench-codec.mjs CORPUS.json RUNS
//   -> one JSON line {"encode_s", "decode_s", "decode_sync_s", "frame_s", "frame_sync_s"}
// (each the least CPU seconds of one pass over the corpus). CORPUS.json: a list of codec-bridge nodes.
// Two decoders: decodeBinaryNode (async, what Baileys' socket awaits per frame) and
// decodeDecompressedBinaryNode (sync, its fastest: no promise per node); *_sync loops use the latter.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { encodeBinaryNode, decodeBinaryNode, aesEncryptGCM, aesDecryptGCM } from '@whiskeysockets/baileys';
import * as constants from '@whiskeysockets/baileys/lib/WABinary/constants.js';
import { decodeDecompressedBinaryNode } from '@whiskeysockets/baileys/lib/WABinary/decode.js';
import { toJs } from './codec-bridge.mjs';

const nodes = JSON.parse(readFileSync(process.argv[2], 'utf-8')).map(toJs);
const runs = Number(process.argv[3] || 5);
const encoded = nodes.map((n) => encodeBinaryNode(n));
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
  // the corpus is uncompressed (flags byte 00): skipping that byte is all the async path adds
  decode_sync: async () => { for (const b of encoded) decodeDecompressedBinaryNode(b.subarray(1), constants); },
  frame: async () => {
    let counter = 0;
    for (const n of nodes) await decodeBinaryNode(sealAndOpen(n, counter++));
  },
  frame_sync: async () => {
    let counter = 0;
    for (const n of nodes) decodeDecompressedBinaryNode(sealAndOpen(n, counter++).subarray(1), constants);
  },
};

// The least process CPU time of RUNS passes after one warm-up, as benchmarks/codec.py times
// walink: on a shared machine the least disturbed run is the closest to the cost.
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const result = {};
for (const [name, loop] of Object.entries(loops)) {
  await loop(); // warm-up
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = cpuSeconds();
    await loop();
    best = Math.min(best, cpuSeconds() - start);
  }
  result[`${name}_s`] = best;
}
process.stdout.write(JSON.stringify(result) + '\n');
