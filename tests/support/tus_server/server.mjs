// The official tus server (@tus/server with @tus/file-store) on loopback, for tests/test_tus.py.
//
//   node server.mjs DIRECTORY [PORT] [--checksum]
//
// Stores uploads under DIRECTORY (an upload's bytes in DIRECTORY/<id>, where <id> is the last
// segment of its URL, /files/<id>). PORT 0 (the default) picks a free port. The first line on
// stdout is the port, once the server listens. It stops on SIGTERM, SIGINT or when stdin closes.
//
// @tus/server 2.x does not implement the checksum extension. With --checksum, a small shim
// (below) adds it in front of the official handlers, as the tus 1.0 specification describes it:
// OPTIONS lists "checksum" in Tus-Extension with Tus-Checksum-Algorithm: sha1, and a PATCH with
// Upload-Checksum is read whole and checked before the official handler writes it (460 Checksum
// Mismatch otherwise: nothing of it is stored).
import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const args = process.argv.slice(2);
const checksum = args.includes('--checksum');
const [directory, port = '0'] = args.filter((arg) => !arg.startsWith('--'));
if (!directory) {
  console.error('usage: node server.mjs DIRECTORY [PORT] [--checksum]');
  process.exit(2);
}

const datastore = new FileStore({ directory });
const tus = new Server({ path: '/files', datastore });

if (checksum) {
  datastore.extensions.push('checksum');
  const options = tus.handlers.OPTIONS;
  const sendOptions = options.send.bind(options);
  options.send = (req, context, headers = new Headers()) => {
    headers.set('Tus-Checksum-Algorithm', 'sha1');
    return sendOptions(req, context, headers);
  };
  const patch = tus.handlers.PATCH;
  const sendPatch = patch.send.bind(patch);
  patch.send = async (req, context, headers = new Headers()) => {
    const header = req.headers.get('upload-checksum');
    if (header === null) {
      return sendPatch(req, context, headers);
    }
    const [algorithm, expected] = header.split(' ');
    if (algorithm !== 'sha1') {
      throw { status_code: 400, body: 'Unsupported checksum algorithm\n' };
    }
    const body = Buffer.from(await req.arrayBuffer());
    const actual = crypto.createHash('sha1').update(body).digest('base64');
    if (actual !== expected) {
      throw { status_code: 460, body: 'Checksum Mismatch\n' };
    }
    const checked = new Request(req.url, {
      method: req.method,
      headers: req.headers,
      body,
      duplex: 'half',
    });
    return sendPatch(checked, context, headers);
  };
}

const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
