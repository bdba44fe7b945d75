import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expandPath,
  fingerprintOf,
  hostKeyMatches,
  parseHostKey,
  SshExecError,
  truncate,
} from '../../activities/ssh/client';

// Generated with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed the fingerprint below.
const B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIIZMbzDtC63wM1CYjkh9f4l6UofVZob1s/CBQVrdyasn';
const LINE = `ssh-ed25519 ${B64} fixture`;
const FP = 'SHA256:ZNwgAdgk9yONf0ChrYeEaRkhuWo2AIU0W+7+PHnKHJI';
const BLOB = Buffer.from(B64, 'base64');
const OTHER = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIB0r4nS0cF0dTlE7VpC0s7c9K9G5o8y8t0xYQ1uH2hJk', 'base64');

describe('fingerprintOf', () => {
  it('matches ssh-keygen -lf', () => assert.equal(fingerprintOf(BLOB), FP));
});

describe('parseHostKey', () => {
  it('reads a .pub line with comment', () => {
    const k = parseHostKey(LINE);
    assert.equal(k.kind, 'key');
    assert.ok(k.kind === 'key' && k.type === 'ssh-ed25519' && k.blob.equals(BLOB));
    assert.equal(k.fingerprint, FP);
  });
  it('reads a known_hosts line (hosts first) and a bare line', () => {
    assert.equal(parseHostKey(`[10.0.0.5]:2222,web-1 ${LINE}`).fingerprint, FP);
    assert.equal(parseHostKey(`  ssh-ed25519 ${B64}\n`).fingerprint, FP);
  });
  it('reads a SHA256 fingerprint, with or without padding', () => {
    assert.deepEqual(parseHostKey(FP), { kind: 'fingerprint', fingerprint: FP });
    assert.deepEqual(parseHostKey(`${FP}=`), { kind: 'fingerprint', fingerprint: FP });
  });
  it('refuses garbage, MD5 fingerprints and a type that disagrees with the key data', () => {
    assert.throws(() => parseHostKey('hello world'), /neither a public key line/);
    assert.throws(() => parseHostKey('MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'), /neither/);
    assert.throws(() => parseHostKey(`ssh-rsa ${B64}`), /does not match its type ssh-rsa/);
  });
});

describe('hostKeyMatches', () => {
  it('compares the blob exactly or the fingerprint', () => {
    assert.equal(hostKeyMatches(parseHostKey(LINE), BLOB), true);
    assert.equal(hostKeyMatches(parseHostKey(LINE), OTHER), false);
    assert.equal(hostKeyMatches(parseHostKey(FP), BLOB), true);
    assert.equal(hostKeyMatches(parseHostKey(FP), OTHER), false);
    assert.equal(hostKeyMatches(parseHostKey(FP.toLowerCase().replace('sha256', 'SHA256')), BLOB), false);
  });
});

describe('expandPath', () => {
  const env = { HOME: '/home/ops', KEYS: '/etc/keys', X_1: 'x' };
  it('expands ~ and variables', () => {
    assert.equal(expandPath('~/.ssh/id_ed25519', env), '/home/ops/.ssh/id_ed25519');
    assert.equal(expandPath('~', env), '/home/ops');
    assert.equal(expandPath('${KEYS}/deploy', env), '/etc/keys/deploy');
    assert.equal(expandPath('$KEYS/$X_1.key', env), '/etc/keys/x.key');
    assert.equal(expandPath('/abs/~not-home', env), '/abs/~not-home');
  });
  it('refuses unset variables', () => {
    assert.throws(() => expandPath('${NOPE}/k', env), /NOPE.*not set/);
  });
});

describe('SshExecError', () => {
  it('names host and code, shows the first lines of stderr, truncates the command', () => {
    const stderr = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    const e = new SshExecError('web-1', 'x'.repeat(5000), 3, stderr);
    assert.equal(e.name, 'SshExecError');
    assert.match(e.message, /^web-1: command exited 3: line 0\nline 1/);
    assert.ok(!e.message.includes('line 10'));
    assert.ok(e.command.length < 600);
    assert.equal(e.code, 3);
    assert.equal(e.stderr, stderr);
    assert.match(new SshExecError('h', 'c', 1, '').message, /\(no stderr\)/);
  });
  it('truncate keeps short text intact', () => {
    assert.equal(truncate('a\nb\n'), 'a\nb');
    assert.equal(truncate('abcdef', 3), 'abc …');
  });
});
