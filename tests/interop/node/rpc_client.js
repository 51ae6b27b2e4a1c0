// Calls a Stele server (stele-bench serve) from the .proto files alone, with Node's grpc-js:
// Health/Check, Node/Info, Bench Echo and Stream, and the error paths (unknown service,
// unknown method, malformed bytes). Prints one line per check and "N passed, N failed".
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, protoDir] = process.argv.slice(2);
const opts = { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [protoDir] };
const def = loader.loadSync(['grpc/health/v1/health.proto', 'stele/node.proto', 'stele/bench.proto'], opts);
const pkg = grpc.loadPackageDefinition(def);
const creds = grpc.credentials.createInsecure();
const health = new pkg.grpc.health.v1.Health(target, creds);
const node = new pkg.stele.Node(target, creds);
const bench = new pkg.stele.Bench(target, creds);
const deadline = () => new Date(Date.now() + 5000);

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
}
const unary = (client, method, req) => new Promise((resolve) =>
  client[method](req, { deadline: deadline() }, (err, resp) => resolve({ err, resp })));

async function main() {
  let r = await unary(health, 'Check', { service: '' });
  check('Health/Check says SERVING', !r.err && r.resp.status === 'SERVING', r.err || JSON.stringify(r.resp));

  r = await unary(health, 'Check', { service: 'no.such.Service' });
  check('Health/Check of an unknown service is NOT_FOUND', r.err && r.err.code === grpc.status.NOT_FOUND, r.err);

  r = await unary(node, 'Info', {});
  check('Node/Info names the node and its role', !r.err && r.resp.node_id === 'stele-bench' && r.resp.role === 'bench',
        r.err || JSON.stringify(r.resp));
  check('Node/Info has a version and a start time', !r.err && /^\d+\.\d+\.\d+/.test(r.resp.version) && Number(r.resp.started_at) > 1.7e9,
        r.err || JSON.stringify(r.resp));

  const payload = Buffer.from('héllo from node');
  r = await unary(bench, 'Echo', { payload });
  check('Bench/Echo returns the payload', !r.err && Buffer.compare(r.resp.payload, payload) === 0, r.err);

  const got = await new Promise((resolve) => {
    const seqs = [];
    const call = bench.Stream({ payload: Buffer.from('x'), count: 1000 }, { deadline: deadline() });
    call.on('data', (m) => seqs.push(Number(m.seq)));
    call.on('error', (e) => resolve({ err: e, seqs }));
    call.on('end', () => resolve({ seqs }));
  });
  check('Bench/Stream delivers 1000 messages in order',
        !got.err && got.seqs.length === 1000 && got.seqs.every((s, i) => s === i), got.err || got.seqs.length);

  // A method the server does not have: UNIMPLEMENTED at once, not a hang.
  const raw = new grpc.Client(target, creds);
  const t0 = Date.now();
  r = await new Promise((resolve) => raw.makeUnaryRequest('/stele.Nope/Missing', (x) => x, (x) => x,
    Buffer.alloc(0), { deadline: deadline() }, (err, resp) => resolve({ err, resp })));
  check('unknown method is UNIMPLEMENTED within a second',
        r.err && r.err.code === grpc.status.UNIMPLEMENTED && Date.now() - t0 < 1000, r.err);

  // Bytes that are not an EchoRequest (a varint where field 1 must be bytes).
  r = await new Promise((resolve) => raw.makeUnaryRequest('/stele.Bench/Echo', (x) => x, (x) => x,
    Buffer.from([0x08, 0x96, 0x01]), { deadline: deadline() }, (err, resp) => resolve({ err, resp })));
  check('malformed bytes are INVALID_ARGUMENT with a detail',
        r.err && r.err.code === grpc.status.INVALID_ARGUMENT && /EchoRequest/.test(r.err.details), r.err);

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
