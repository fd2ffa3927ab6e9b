// Baileys' makeNoiseHandler as the Noise initiator, for tests/protocol/test_noise_peer.py.
// One handshake at a time: `start` begins a fresh one and forgets the previous.
// Bytes travel as hex. The handler keeps its keys to itself, so the Python side can only check
// that what each side encrypts the other decrypts.
import {
  Curve,
  NOISE_WA_HEADER,
  WA_CERT_DETAILS,
  encodeBinaryNode,
  makeNoiseHandler,
  proto,
} from '@whiskeysockets/baileys';
import { verifySignature } from 'libsignal/src/curve.js';
import pino from 'pino';
import { serve } from './bridge-lib.mjs';

const logger = pino({ level: 'silent' });
const ORIGINAL_ROOT = WA_CERT_DETAILS.PUBLIC_KEY;
const ORIGINAL_VERIFY = Curve.verify;
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => Buffer.from(text, 'hex');

let noise = null;
let noiseKey = null;

// docs/protocol/peer.md#certificate-checks: Baileys discards libsignal's verdict; these two lines make its chain check real.
function makeStrict(rootPublicHex) {
  WA_CERT_DETAILS.PUBLIC_KEY = unhex(rootPublicHex);
  Curve.verify = (pub, msg, sig) => {
    try {
      return !!verifySignature(pub.length === 33 ? pub : Buffer.concat([Buffer.from([5]), pub]), msg, sig);
    } catch {
      return false;
    }
  };
}

function makeLax() {
  WA_CERT_DETAILS.PUBLIC_KEY = ORIGINAL_ROOT;
  Curve.verify = ORIGINAL_VERIFY;
}

function nodeToJson(node) {
  const content = Buffer.isBuffer(node.content) || node.content instanceof Uint8Array
    ? { hex: hex(node.content) }
    : node.content ?? null;
  return { tag: node.tag, attrs: node.attrs, content };
}

function nodeFromJson(node) {
  const content = node.content && node.content.hex !== undefined ? unhex(node.content.hex) : undefined;
  return { tag: node.tag, attrs: node.attrs, content };
}

// Feed bytes to decodeFrame and collect the frames it completes (raw bytes before the split,
// decoded binary nodes after it).
async function feed(data) {
  const frames = [];
  await noise.decodeFrame(unhex(data), (frame) => frames.push(frame));
  return frames;
}

await serve({
  // A fresh initiator; returns its first wire bytes: intro header, len3, ClientHello.
  start: async (req) => {
    if (req.strict_root) makeStrict(req.strict_root);
    else makeLax();
    const ephemeral = Curve.generateKeyPair();
    noiseKey = Curve.generateKeyPair();
    noise = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger });
    const hello = proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish();
    return {
      wire: hex(noise.encodeFrame(hello)),
      ephemeral: hex(ephemeral.public),
      static: hex(noiseKey.public),
    };
  },
  // The server's framed ServerHello in; the framed ClientFinish out (what socket.js does).
  server_hello: async (req) => {
    const frames = await feed(req.wire);
    if (frames.length !== 1) throw new Error(`expected one frame, got ${frames.length}`);
    const handshake = proto.HandshakeMessage.decode(frames[0]);
    const keyEnc = noise.processHandshake(handshake, noiseKey);
    const payloadEnc = noise.encrypt(unhex(req.payload));
    const finish = proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish();
    const wire = noise.encodeFrame(finish);
    await noise.finishInit();
    return { wire: hex(wire) };
  },
  // Encode a node the way Baileys sends it; returns the plaintext and the encrypted frame.
  send_node: async (req) => {
    const plaintext = encodeBinaryNode(nodeFromJson(req.node));
    return { plaintext: hex(plaintext), wire: hex(noise.encodeFrame(plaintext)) };
  },
  // Only the codec, no encryption: the plaintext our side should encrypt.
  encode_node: async (req) => ({ plaintext: hex(encodeBinaryNode(nodeFromJson(req.node))) }),
  // Bytes from the server in; the nodes Baileys decrypted and decoded out.
  receive: async (req) => ({ nodes: (await feed(req.wire)).map(nodeToJson) }),
});
