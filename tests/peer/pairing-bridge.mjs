// Baileys' pairing crypto, for tests/protocol/test_pairing*.py. Bytes travel as hex.
// Where Baileys keeps the logic inline (socket.js generatePairingKey, messages-recv.js
// link_code_companion_reg and decipherLinkPublicKey) this calls its exported primitives in the
// same order, with the random values passed in instead of drawn.
import {
  Curve,
  aesDecryptCTR,
  aesEncryptCTR,
  aesEncryptGCM,
  buildPairingQRData,
  bytesToCrockford,
  configureSuccessfulPairing,
  derivePairingCodeKey,
  getCompanionPlatformId,
  hkdf,
  proto,
} from '@whiskeysockets/baileys';
import { serve } from './bridge-lib.mjs';

const hex = (value) => Buffer.from(value, 'hex');
const toHex = (value) => Buffer.from(value).toString('hex');

await serve({
  crockford: async (req) => ({ code: bytesToCrockford(hex(req.bytes)) }),

  qr: async (req) => ({
    qr: buildPairingQRData(
      req.ref,
      hex(req.noise).toString('base64'),
      hex(req.identity).toString('base64'),
      hex(req.adv).toString('base64'),
      req.browser,
    ),
    platform: getCompanionPlatformId(req.browser),
  }),

  // libsignal's signature, to check that we verify its sign-bit convention.
  sign: async (req) => ({ signature: toHex(Curve.sign(hex(req.priv), hex(req.message))) }),

  pbkdf2: async (req) => ({ key: toHex(await derivePairingCodeKey(req.code, hex(req.salt))) }),

  // socket.js generatePairingKey
  wrap: async (req) => {
    const salt = hex(req.salt);
    const iv = hex(req.iv);
    const key = await derivePairingCodeKey(req.code, salt);
    return { wrapped: toHex(Buffer.concat([salt, iv, aesEncryptCTR(hex(req.pub), key, iv)])) };
  },

  // messages-recv.js decipherLinkPublicKey
  unwrap: async (req) => {
    const buffer = hex(req.wrapped);
    const key = await derivePairingCodeKey(req.code, buffer.slice(0, 32));
    return { pub: toHex(aesDecryptCTR(buffer.slice(48, 80), key, buffer.slice(32, 48))) };
  },

  // messages-recv.js, case 'link_code_companion_reg', with random/salt/iv given.
  companion_finish: async (req) => {
    const buffer = hex(req.wrappedPrimary);
    const key = await derivePairingCodeKey(req.code, buffer.slice(0, 32));
    const primaryEphemeral = aesDecryptCTR(buffer.slice(48, 80), key, buffer.slice(32, 48));
    const primaryIdentity = hex(req.primaryIdentityPub);
    const companionSharedKey = Curve.sharedKey(hex(req.pairingPriv), primaryEphemeral);
    const random = hex(req.random);
    const linkCodeSalt = hex(req.salt);
    const bundleKey = hkdf(companionSharedKey, 32, {
      salt: linkCodeSalt,
      info: 'link_code_pairing_key_bundle_encryption_key',
    });
    const payload = Buffer.concat([hex(req.identityPub), primaryIdentity, random]);
    const iv = hex(req.iv);
    const encrypted = aesEncryptGCM(payload, bundleKey, iv, Buffer.alloc(0));
    const identitySharedKey = Curve.sharedKey(hex(req.identityPriv), primaryIdentity);
    const advSecret = hkdf(Buffer.concat([companionSharedKey, identitySharedKey, random]), 32, {
      info: 'adv_secret',
    });
    return {
      bundle: toHex(Buffer.concat([linkCodeSalt, iv, encrypted])),
      advSecret: toHex(advSecret),
    };
  },

  // validate-connection.js configureSuccessfulPairing on a pair-success built by the caller.
  pair_success: async (req) => {
    const stanza = {
      tag: 'iq',
      attrs: { from: 's.whatsapp.net', type: 'set', id: req.stanzaId, t: '1700000000' },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            { tag: 'device-identity', attrs: { 'key-index': String(req.keyIndex) }, content: hex(req.deviceIdentity) },
            { tag: 'platform', attrs: { name: 'android' } },
            { tag: 'device', attrs: { jid: req.jid, lid: req.lid } },
          ],
        },
      ],
    };
    const { creds, reply } = configureSuccessfulPairing(stanza, {
      advSecretKey: hex(req.advSecret).toString('base64'),
      signedIdentityKey: { private: hex(req.identityPriv), public: hex(req.identityPub) },
      signalIdentities: [],
    });
    const deviceIdentity = reply.content[0].content[0];
    return {
      replyAttrs: reply.attrs,
      keyIndex: deviceIdentity.attrs['key-index'],
      deviceIdentity: toHex(deviceIdentity.content),
      account: toHex(proto.ADVSignedDeviceIdentity.encode(creds.account).finish()),
      identityKey: toHex(creds.signalIdentities[0].identifierKey),
      me: creds.me,
    };
  },
});
