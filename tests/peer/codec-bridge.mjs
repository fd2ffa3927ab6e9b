// Codec bridge for the differential tests (tests/protocol/binary): Baileys' WABinary over JSON lines.
// Node JSON: {"tag": str, "attrs": {str: str}, "content": null | str | {"$b": "<hex>"} | [Node, ...]}
//   encode {node}          -> {hex}   (encodeBinaryNode, flags byte included)
//   decode {hex}           -> {node}  (decodeBinaryNode: flags byte, zlib when flags & 2)
//   encode_many {nodes}    -> {results: [{hex} | {error}]}
//   decode_many {hexes}    -> {results: [{node} | {error}]}
//   tokens {}              -> {single, double}  (SINGLE_BYTE_TOKENS, DOUBLE_BYTE_TOKENS)
import { encodeBinaryNode, decodeBinaryNode } from '@whiskeysockets/baileys';
import * as constants from '@whiskeysockets/baileys/lib/WABinary/constants.js';
import { serve } from './bridge-lib.mjs';

export const toJs = (n) => ({
  tag: n.tag,
  attrs: n.attrs || {},
  content: n.content == null ? undefined
    : Array.isArray(n.content) ? n.content.map(toJs)
    : typeof n.content === 'object' ? Buffer.from(n.content.$b, 'hex')
    : n.content,
});

export const toJson = (n) => ({
  tag: n.tag,
  attrs: n.attrs,
  content: n.content == null ? null
    : Array.isArray(n.content) ? n.content.map(toJson)
    : (Buffer.isBuffer(n.content) || n.content instanceof Uint8Array) ? { $b: Buffer.from(n.content).toString('hex') }
    : n.content,
});

const encode = (node) => encodeBinaryNode(toJs(node)).toString('hex');
const decode = async (hex) => toJson(await decodeBinaryNode(Buffer.from(hex, 'hex')));
const settle = async (fn) => {
  try { return await fn(); } catch (e) { return { error: String(e?.message || e) }; }
};

if (process.argv[1] && process.argv[1].endsWith('codec-bridge.mjs')) {
  await serve({
    encode: async (req) => ({ hex: encode(req.node) }),
    decode: async (req) => ({ node: await decode(req.hex) }),
    encode_many: async (req) => ({ results: await Promise.all(req.nodes.map((n) => settle(() => ({ hex: encode(n) })))) }),
    decode_many: async (req) => ({ results: await Promise.all(req.hexes.map((h) => settle(async () => ({ node: await decode(h) })))) }),
    tokens: async () => ({ single: constants.SINGLE_BYTE_TOKENS, double: constants.DOUBLE_BYTE_TOKENS }),
  });
}
