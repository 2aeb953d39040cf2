'use strict';

// Hello World for the crun-lite image demo (contrib/demo/build-image.sh).
const express = require('express');

const port = Number(process.env.PORT) || 3000;
const host = '0.0.0.0';

const app = express();

app.get('/', (req, res) => {
  res.type('text/plain').send('Hello from crun-lite\n');
});

app.get('/health', (req, res) => {
  res.status(200).type('text/plain').send('ok');
});

const server = app.listen(port, host, () => {
  console.log(`listening on http://${host}:${port}`);
});

// Graceful stop: `stop` sends SIGTERM; stop accepting connections, let the
// in-flight requests finish, and exit 0. Idle keep-alive sockets would keep
// close() waiting, so they are closed too, and a timer bounds the wait.
function shutdown(signal) {
  console.log(`${signal} received, closing the server`);
  server.close(() => process.exit(0));
  if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
