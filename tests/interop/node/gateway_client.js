// Submits a transaction through a peer's gateway from the .proto files alone, with Node's
// grpc-js, protobufjs and node:crypto, as an enrolled client (DESIGN §3, proto/stele/
// transaction.proto, peer.proto): builds a Proposal (nonce, tx_id = hex(SHA-256(nonce ||
// creator)), timestamp) and signs its bytes (ECDSA P-256/SHA-256, low-S, r || s); Gateway/
// Endorse answers the transaction payload endorsed by both organisations; signs that payload
// and Gateway/Submit waits for its commit; Gateway/CommitStatus (a SignedRequest) and
// Gateway/Evaluate of `read` see it. Refusals: a signature by another enrolled key, a high-S
// signature, a DER signature, a wrong tx_id.
// Usage: node gateway_client.js HOST:PORT PROTO_DIR ENROLMENT_DIR OTHER_ENROLMENT_DIR ASSET_ID
// With STELE_TLS_CA (PEM roots) it speaks TLS, presenting STELE_TLS_CERT and STELE_TLS_KEY as
// its client certificate when they are set (mutual TLS).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const [target, protoDir, idDir, otherDir, assetId] = process.argv.slice(2);
const opts = { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [protoDir] };
const pkg = grpc.loadPackageDefinition(loader.loadSync(['stele/peer.proto'], opts));
const pem = (name) => (process.env[name] ? fs.readFileSync(process.env[name]) : null);
const creds = process.env.STELE_TLS_CA
  ? grpc.credentials.createSsl(pem('STELE_TLS_CA'), pem('STELE_TLS_KEY'), pem('STELE_TLS_CERT'))
  : grpc.credentials.createInsecure();
const query = new pkg.stele.Query(target, creds);
const gateway = new pkg.stele.Gateway(target, creds);

// protobufjs for the messages that are signed: their bytes are built here and sent as is.
const root = new protobuf.Root();
root.resolvePath = (origin, file) => path.join(protoDir, file);
root.loadSync('stele/peer.proto', { keepCase: true });
const T = (n) => root.lookupType('stele.' + n);
const encode = (n, obj) => Buffer.from(T(n).encode(T(n).fromObject(obj)).finish());
const decode = (n, bytes) => T(n).toObject(T(n).decode(bytes), { enums: String, longs: String, defaults: true });

const enrolment = (dir) => ({
  key: crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'key.pem'))),
  identity: fs.readFileSync(path.join(dir, 'identity')),
});
const me = enrolment(idDir);
const other = enrolment(otherDir);
const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const big = (b) => BigInt('0x' + b.toString('hex'));
const octets32 = (n) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');

// ECDSA P-256/SHA-256 over exactly `bytes`, as 64 octets r || s with s in the low half.
function sign(bytes, key = me.key) {
  const sig = crypto.sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
  const s = big(sig.subarray(32));
  return s > N / 2n ? Buffer.concat([sig.subarray(0, 32), octets32(N - s)]) : sig;
}
const highS = (sig) => Buffer.concat([sig.subarray(0, 32), octets32(N - big(sig.subarray(32)))]);

// A signed proposal to run `fn(args)` of the chaincode `cc`. `tamper` may change the header
// or the signature to provoke a refusal.
function proposal(channel, cc, fn, args, tamper = {}) {
  const nonce = crypto.randomBytes(24);
  const tx_id = tamper.tx_id ||
    crypto.createHash('sha256').update(nonce).update(me.identity).digest('hex');
  const now = Date.now() + (tamper.skew_ms || 0);
  const header = { channel_id: channel, tx_id, type: 'ENDORSER_TRANSACTION', creator: me.identity,
                   timestamp: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, nonce };
  const proposal_bytes = encode('Proposal', {
    header, invocation: { chaincode: cc, function: fn, args: args.map((a) => Buffer.from(a)) } });
  // the proposal signature is domain-separated, so that it can never pass for an envelope's
  const signed_bytes = Buffer.concat([Buffer.from('STELE-PROPOSAL-v1\0'), proposal_bytes]);
  const signature = tamper.sign ? tamper.sign(signed_bytes) : sign(signed_bytes);
  return { tx_id, header, proposal_bytes, signed: { proposal_bytes, signature } };
}

// A SignedRequest for `method`: the AdminRequest's bytes, signed under the domain
// "STELE-ADMIN-REQUEST-v1\0" (identity.proto).
function signedRequest(method, bodyType, body) {
  const request = encode('AdminRequest', { signer: me.identity, method, timestamp_ms: Date.now(),
                                           nonce: crypto.randomBytes(16), body: encode(bodyType, body) });
  const domain = Buffer.from('STELE-ADMIN-REQUEST-v1\0');
  return { request, signature: sign(Buffer.concat([domain, request])) };
}

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}
const call = (client, method, req, ms = 20000) => new Promise((resolve) =>
  client[method](req, { deadline: new Date(Date.now() + ms) }, (err, resp) => resolve({ err, resp })));
const grpcErr = (e) => e && `${grpc.status[e.code]}: ${e.details}`;

async function main() {
  let r = await call(query, 'ChainInfo', {});
  check('Query/ChainInfo names the channel', !r.err && r.resp.channel_id, grpcErr(r.err));
  if (r.err) throw new Error('no peer');
  const channel = r.resp.channel_id;

  // Refusals before anything is endorsed: each is a gRPC error, not a response.
  const args = [assetId, 'teal', '7', '420'];
  const refused = [
    ['a proposal signed with another enrolled key', { sign: (b) => sign(b, other.key) }, 'UNAUTHENTICATED'],
    ['a high-S signature', { sign: (b) => highS(sign(b)) }, 'UNAUTHENTICATED'],
    ['a DER signature', { sign: (b) => crypto.sign('sha256', b, me.key) }, 'UNAUTHENTICATED'],
    ['a tx_id that is not SHA-256(nonce || creator)', { tx_id: 'ab'.repeat(32) }, 'INVALID_ARGUMENT'],
    // chaincode reads the header's time as the transaction's: it must be near the peers' clocks
    ['a proposal dated 20 minutes back', { skew_ms: -20 * 60000 }, 'UNAUTHENTICATED', /15 minutes/],
    ['a proposal dated 20 minutes ahead', { skew_ms: 20 * 60000 }, 'UNAUTHENTICATED', /15 minutes/],
  ];
  for (const [what, tamper, code, says] of refused) {
    r = await call(gateway, 'Endorse', proposal(channel, 'asset', 'create', args, tamper).signed);
    check(`Endorse refuses ${what} with ${code}`,
          r.err && grpc.status[r.err.code] === code && (!says || says.test(r.err.details)),
          r.err ? grpcErr(r.err) : 'endorsed');
  }
  r = await call(gateway, 'Evaluate', proposal(channel, 'asset', 'read', [assetId], { skew_ms: -3600000 }).signed);
  check('Evaluate refuses a proposal dated an hour back with UNAUTHENTICATED',
        r.err && r.err.code === grpc.status.UNAUTHENTICATED && /15 minutes/.test(r.err.details),
        r.err ? grpcErr(r.err) : 'evaluated');
  // a proposal 5 minutes old (a slow client, a clock a little off) is still endorsed
  r = await call(gateway, 'Evaluate', proposal(channel, 'asset', 'read', ['none-such'], { skew_ms: -5 * 60000 }).signed);
  check('Evaluate runs a proposal dated 5 minutes back', !r.err, grpcErr(r.err));

  // Endorse: the transaction payload to sign, endorsed by a peer of each organisation.
  const p = proposal(channel, 'asset', 'create', args);
  r = await call(gateway, 'Endorse', p.signed);
  check('Endorse answers the chaincode status 200', !r.err && r.resp.result.status === 200,
        grpcErr(r.err) || JSON.stringify(r.resp.result));
  if (r.err || r.resp.result.status !== 200) throw new Error('not endorsed');
  const prepared = r.resp;
  check('Endorse keeps the client\'s tx_id', prepared.tx_id === p.tx_id, prepared.tx_id);
  check('both organisations endorsed', prepared.endorsers.length === 2 &&
        prepared.endorsers.some((e) => /\(org1\)/.test(e)) && prepared.endorsers.some((e) => /\(org2\)/.test(e)),
        JSON.stringify(prepared.endorsers));

  // What the client is asked to sign is what it proposed, with the endorsements.
  const payload = decode('Payload', prepared.payload);
  const tx = decode('Transaction', payload.data);
  const rp = decode('ProposalResponsePayload', tx.response_payload);
  check('the payload\'s header is the proposal\'s',
        Buffer.compare(encode('Header', payload.header), encode('Header', p.header)) === 0,
        JSON.stringify(payload.header));
  check('the transaction carries the proposal octet for octet',
        Buffer.compare(tx.proposal_bytes, p.proposal_bytes) === 0, 'differs');
  check('the endorsed payload names SHA-256(proposal_bytes) and the chaincode',
        Buffer.compare(rp.proposal_hash, crypto.createHash('sha256').update(p.proposal_bytes).digest()) === 0 &&
        rp.chaincode === 'asset' && rp.response.status === 200, JSON.stringify({ cc: rp.chaincode }));
  const owner = (b) => `${b.id}@${b.org}`;
  const meBody = decode('IdentityBody', decode('Identity', me.identity).body);
  const index = `\x1eowner~asset\x1f${owner(meBody)}\x1f${assetId}\x1f`;   // chaincode.h composite key
  const writes = rp.rwset.ns_rwsets.length === 1 && rp.rwset.ns_rwsets[0].namespace === 'asset'
    ? rp.rwset.ns_rwsets[0].writes.map((w) => w.key).sort() : [];
  check('the writes are the asset and its owner index', writes.join() === [assetId, index].sort().join(),
        JSON.stringify(rp.rwset.ns_rwsets));
  const endorsers = tx.endorsements.map((e) => decode('IdentityBody', decode('Identity', e.endorser).body));
  check('two endorsements by peers of org1 and org2, each 64 octets low-S',
        tx.endorsements.length === 2 && endorsers.every((b) => b.role === 'peer') &&
        endorsers.map((b) => b.org).sort().join() === 'org1,org2' &&
        tx.endorsements.every((e) => e.signature.length === 64 && big(e.signature.subarray(32)) <= N / 2n),
        JSON.stringify(endorsers.map((b) => [b.id, b.org, b.role])));

  // Sign exactly the prepared bytes; submit and wait for the commit.
  const envelope = encode('Envelope', { payload: prepared.payload, signature: sign(prepared.payload) });
  r = await call(gateway, 'Submit', { envelope, wait: true, timeout_ms: 20000 }, 40000);
  check('Submit: accepted by the orderer and committed VALID',
        !r.err && r.resp.tx_id === p.tx_id && r.resp.orderers_accepted >= 1 && r.resp.committed &&
        r.resp.validation_code === 'VALID', grpcErr(r.err) || JSON.stringify(r.resp));
  const block = r.resp && r.resp.block_number;

  r = await call(gateway, 'CommitStatus',
                 signedRequest('/stele.Gateway/CommitStatus', 'CommitStatusRequest', { tx_id: p.tx_id }));
  check('CommitStatus (a SignedRequest) says VALID in the same block',
        !r.err && r.resp.validation_code === 'VALID' && r.resp.block_number === block,
        grpcErr(r.err) || JSON.stringify(r.resp));

  // Evaluate runs `read` on this peer: the committed asset, owned by this client.
  r = await call(gateway, 'Evaluate', proposal(channel, 'asset', 'read', [assetId]).signed);
  let asset = null;
  try { asset = JSON.parse(r.resp.response.payload.toString()); } catch (e) { /* checked below */ }
  check('Evaluate read returns the asset as JSON, owned by this client',
        !r.err && r.resp.response.status === 200 && asset && asset.id === assetId && asset.color === 'teal' &&
        asset.size === 7 && asset.value === 420 && asset.owner === owner(meBody),
        grpcErr(r.err) || (r.resp.response.status + ' ' + r.resp.response.payload));

  // The same transaction again: its tx_id is committed.
  r = await call(gateway, 'Endorse', p.signed);
  check('Endorse refuses the committed proposal again with ALREADY_EXISTS',
        r.err && r.err.code === grpc.status.ALREADY_EXISTS, r.err ? grpcErr(r.err) : 'endorsed');

  console.log(`tx ${p.tx_id} block ${block}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(e); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
