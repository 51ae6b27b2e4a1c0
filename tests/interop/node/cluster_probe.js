// Opens stele.Cluster/Step on an orderer over TLS with a given client certificate, sends
// nothing and closes the stream, from the .proto files alone with Node's grpc-js. Under mutual
// TLS an orderer takes Cluster streams only from the channel's orderers (the certificate's CN
// names one): EXPECT is "denied" (PERMISSION_DENIED, saying why) or "accepted" (the PbftAck).
// Usage: node cluster_probe.js HOST:PORT PROTO_DIR CA_PEM CERT_PEM KEY_PEM EXPECT
'use strict';
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, protoDir, ca, cert, key, expect] = process.argv.slice(2);
const opts = { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [protoDir] };
const pkg = grpc.loadPackageDefinition(loader.loadSync(['stele/cluster.proto'], opts));
const creds = grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key), fs.readFileSync(cert));
const cluster = new pkg.stele.Cluster(target, creds);

const call = cluster.Step({ deadline: Date.now() + 10000 }, (err) => {
  const got = !err ? 'accepted' : err.code === grpc.status.PERMISSION_DENIED ? 'denied' : 'error';
  if (got !== expect) {
    console.log(`FAIL: Cluster/Step with ${cert}: ${got}${err ? ` (${err.code} ${err.details})` : ''}, expected ${expect}`);
    process.exit(1);
  }
  if (got === 'denied' && !/no orderer of the channel/.test(err.details)) {
    console.log(`FAIL: the refusal does not say why: ${err.details}`);
    process.exit(1);
  }
  console.log(`ok   Cluster/Step with ${cert.split('/').slice(-1)[0]}: ${got}${err ? ` (${err.details})` : ''}`);
  cluster.close();
});
call.end();
