/**
 * Ed25519 key pairs in OpenSSH's formats, made with node:crypto. ssh2's own generateKeyPairSync
 * writes a public key whose first byte is 0 as 31 bytes (≈1 key in 256), and ssh2 then refuses
 * to parse that private key ("Malformed OpenSSH private key"): a machine would be left with keys
 * it can never use.
 *
 * The key is made from 32 random bytes as a PKCS#8 DER, not with crypto.generateKeyPairSync:
 * on Node 20 a garbage collection that finalises an earlier generateKeyPairSync job while a key
 * is being exported as JWK deadlocks the process (seen in CI: a futex wait in ~KeyGenJob).
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

export interface SshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` …, unencrypted */
  private: string;
  /** `ssh-ed25519 AAAA… comment` */
  public: string;
}

const KEY_TYPE = 'ssh-ed25519';

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** RFC 8410's PKCS#8 wrapping of an Ed25519 seed: this prefix, then the 32 bytes. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SubjectPublicKeyInfo DER of an Ed25519 key: a 12-byte header, then the 32-byte key. */
const SPKI_ED25519_HEADER_BYTES = 12;

export function generateEd25519KeyPair(comment = ''): SshKeyPair {
  const seed = randomBytes(32);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const pub = spki.subarray(SPKI_ED25519_HEADER_BYTES);
  if (pub.length !== 32) throw new Error(`unexpected ed25519 public key length ${pub.length}`);
  const publicBlob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
  // PROTOCOL.key: a check number twice, the key (private part is seed ‖ public), the comment,
  // then padding 1, 2, 3, … up to the cipher's block size (8 for "none").
  const check = randomBytes(4);
  let section = Buffer.concat([
    check,
    check,
    sshString(KEY_TYPE),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(publicBlob),
    sshString(section),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      ...lines,
      '-----END OPENSSH PRIVATE KEY-----',
      '',
    ].join('\n'),
    public: `${KEY_TYPE} ${publicBlob.toString('base64')}${comment ? ` ${comment}` : ''}`,
  };
}
