// Talks to a stele-orderer from the .proto files alone, with Node's grpc-js, protobufjs and
// node:crypto: ChainInfo; Broadcast of an envelope built and signed here (tx_id =
// hex(SHA-256(nonce || creator)), ECDSA P-256 low-S r || s over the payload bytes); refusals
// of a bad signature and of a replay; Deliver of the new block with a signed SeekInfo and the
// envelope found in it octet for octet, linked to the previous block by the header hash
// (SHA-256 of u64be(number) || previous_hash || data_hash).
// Usage: node orderer_client.js HOST:PORT PROTO_DIR ENROLMENT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const [target, protoDir, idDir] = process.argv.slice(2);
const opts = { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [protoDir] };
const pkg = grpc.loadPackageDefinition(loader.loadSync(['stele/orderer.proto'], opts));
const creds = grpc.credentials.createInsecure();
const orderer = new pkg.stele.Orderer(target, creds);
const raw = new grpc.Client(target, creds);

const root = new protobuf.Root();
root.resolvePath = (origin, file) => path.join(protoDir, file);
root.loadSync('stele/orderer.proto', { keepCase: true });
const T = (n) => root.lookupType('stele.' + n);

const key = crypto.createPrivateKey(fs.readFileSync(path.join(idDir, 'key.pem')));
const creator = fs.readFileSync(path.join(idDir, 'identity'));
const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

// ECDSA P-256/SHA-256 as 64 octets r || s with s in the low half (DESIGN §3).
function sign(bytes) {
  const sig = crypto.sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
  let s = BigInt('0x' + sig.subarray(32).toString('hex'));
  if (s > N / 2n) s = N - s;
  return Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex')]);
}

function envelope(channel, type, data, signer = sign) {
  const nonce = crypto.randomBytes(24);
  const tx_id = crypto.createHash('sha256').update(nonce).update(creator).digest('hex');
  const now = Date.now();
  const header = { channel_id: channel, tx_id, type, creator, nonce,
                   timestamp: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 } };
  const payload = Buffer.from(T('Payload').encode(T('Payload').fromObject({ header, data })).finish());
  const bytes = Buffer.from(T('Envelope').encode({ payload, signature: signer(payload) }).finish());
  return { tx_id, bytes };
}

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}
const deadline = () => new Date(Date.now() + 10000);
const id = (x) => x;

// One Broadcast stream: sends every envelope, collects one response per envelope.
function broadcast(envs) {
  return new Promise((resolve) => {
    const out = [];
    const call = raw.makeBidiStreamRequest('/stele.AtomicBroadcast/Broadcast', id,
      (b) => T('BroadcastResponse').toObject(T('BroadcastResponse').decode(b), { enums: String }),
      { deadline: deadline() });
    call.on('data', (m) => out.push(m));
    call.on('error', (e) => resolve({ err: e, out }));
    call.on('end', () => resolve({ out }));
    for (const e of envs) call.write(e.bytes);
    call.end();
  });
}

function deliver(channel, start, stop) {
  const seek = T('SeekInfo').encode(T('SeekInfo').fromObject({ start: { specified: { number: start } },
    stop: { specified: { number: stop } }, behavior: 'SEEK_FAIL_IF_NOT_READY' })).finish();
  const req = envelope(channel, 'DELIVER_SEEK_INFO', Buffer.from(seek));
  return new Promise((resolve) => {
    const blocks = []; let status = null;
    const call = raw.makeServerStreamRequest('/stele.AtomicBroadcast/Deliver', id,
      (b) => T('DeliverResponse').decode(b), req.bytes, { deadline: deadline() });
    call.on('data', (m) => { if (m.block) blocks.push(m.block); else status = m.status; });
    call.on('error', (e) => resolve({ err: e, blocks, status }));
    call.on('end', () => resolve({ blocks, status }));
  });
}

function headerHash(h) {
  const n = Buffer.alloc(8);
  n.writeBigUInt64BE(BigInt(h.number.toString()));
  return crypto.createHash('sha256').update(n).update(h.previous_hash).update(h.data_hash).digest();
}

async function main() {
  const info = await new Promise((resolve) => orderer.ChainInfo({}, { deadline: deadline() },
    (err, resp) => resolve({ err, resp })));
  check('Orderer/ChainInfo gives channel, height and hash',
        !info.err && info.resp.channel_id && Number(info.resp.height) >= 1 && info.resp.current_hash.length === 32,
        info.err || JSON.stringify(info.resp));
  const channel = info.resp.channel_id, height = Number(info.resp.height);

  const good = envelope(channel, 'ENDORSER_TRANSACTION', Buffer.from('from node'));
  const forged = envelope(channel, 'ENDORSER_TRANSACTION', Buffer.from('forged'),
                          () => crypto.randomBytes(64));
  let r = await broadcast([good, forged, good]);
  const st = r.out.map((m) => m.status);
  check('Broadcast answers each envelope in order', !r.err && r.out.length === 3, r.err || st);
  check('a signed envelope is accepted', st[0] === 'STATUS_SUCCESS' && r.out[0].tx_id === good.tx_id,
        JSON.stringify(r.out[0]));
  check('a bad signature is FORBIDDEN', st[1] === 'STATUS_FORBIDDEN' && /signature/.test(r.out[1].info),
        JSON.stringify(r.out[1]));
  check('the same tx_id again is a CONFLICT', st[2] === 'STATUS_CONFLICT', JSON.stringify(r.out[2]));

  // The new block (waiting for the batch timeout), then its predecessor for the hash link.
  let d;
  for (let i = 0; i < 100; i++) {
    d = await deliver(channel, height - 1, height);
    if (d.blocks.length === 2) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  check('Deliver streams the requested blocks then SUCCESS',
        d.blocks.length === 2 && d.status === 200, d.err || `${d.blocks.length} blocks, status ${d.status}`);
  if (d.blocks.length === 2) {
    const b = d.blocks[1];
    check('the block holds the envelope octet for octet',
          b.data.envelopes.some((e) => Buffer.compare(Buffer.from(e), good.bytes) === 0), 'not found');
    check('the block links to its predecessor by header hash',
          Buffer.compare(Buffer.from(b.header.previous_hash), headerHash(d.blocks[0].header)) === 0, 'mismatch');
    check('the block carries a solo finality proof', b.metadata.consensus_type === 'solo' &&
          T('SoloProof').decode(b.metadata.finality_proof).signature.length === 64, b.metadata.consensus_type);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
