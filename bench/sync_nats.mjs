// SPDX-License-Identifier: Apache-2.0
// The JetStream streams of bench/sync.sh (cpmd never creates one), made and
// counted with the nats npm client that the tests install
// (tests/node_modules/nats). The publishing baseline is cpm-bench-nats-pub
// (bench/sync_nats_pub.c): nats.c, as cpmd uses it. Every command prints
// one line for the shell to parse: "CPM_RESULT key=value …".
//
//   stream URL NAME SUBJECTS
//       Creates JetStream stream NAME over SUBJECTS (file storage, the
//       server's defaults otherwise: what an operator would make).
//       → name subjects
//   count URL NAME
//       The number of messages stream NAME holds.
//       → messages
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let nats;
try {
  nats = require('../tests/node_modules/nats');
} catch (e) {
  console.error(`sync_nats.mjs: cannot load tests/node_modules/nats (${e.message}); \`make test\` or (cd tests && npm ci) installs it`);
  process.exit(1);
}

function result(fields) {
  console.log(`CPM_RESULT ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

const [command, url, ...args] = process.argv.slice(2);
if (!command || !url) {
  console.error('usage: see the header of bench/sync_nats.mjs');
  process.exit(2);
}
const nc = await nats.connect({ servers: url, reconnect: false });
try {
  switch (command) {
    case 'stream': {
      const [name, subjects] = args;
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name, subjects: [subjects], storage: nats.StorageType.File });
      result({ name, subjects });
      break;
    }
    case 'count': {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(args[0]);
      result({ messages: info.state.messages });
      break;
    }
    default:
      console.error(`sync_nats.mjs: unknown command '${command}'`);
      process.exitCode = 2;
  }
} finally {
  await nc.close();
}
