const http = require('http');

const PORT = parseInt(process.env.PLUGIN_PORT || '8080');
const START_TIME = Date.now();

const server = http.createServer((req, res) => {
  const send = (status, data) => {
    const body = JSON.stringify(data);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  if (req.method === 'GET' && req.url === '/health') {
    send(200, {
      status: 'healthy',
      version: '1.0.0',
      uptime_seconds: Math.floor((Date.now() - START_TIME) / 1000),
    });
  } else if (req.method === 'GET' && req.url === '/info') {
    send(200, {
      id: 'my-js-plugin',
      name: 'My JS Plugin',
      version: '1.0.0',
      description: 'Example Node.js plugin',
      actions: [
        {
          id: 'my-js-plugin.transform',
          name: 'Transform JSON',
          description: 'Apply a jq-like transformation',
          schema: { type: 'object', properties: { input: {}, expression: { type: 'string' } } },
        },
      ],
    });
  } else if (req.method === 'POST' && req.url === '/execute') {
    let body = '';
    req.on('data', chunk => (body += chunk));
    req.on('end', () => {
      const { action, config, context } = JSON.parse(body);

      if (action === 'my-js-plugin.transform') {
        // Example: just echo the input back with a timestamp
        send(200, {
          success: true,
          output: {
            result: config.input,
            transformed_at: new Date().toISOString(),
          },
          logs: [{ level: 'info', message: 'Transformation complete' }],
          metrics: { duration_ms: 1 },
        });
      } else {
        send(400, {
          success: false,
          output: {},
          error: { code: 'UNKNOWN_ACTION', message: `Unknown action: ${action}` },
        });
      }
    });
  } else if (req.method === 'POST' && req.url === '/shutdown') {
    send(200, { message: 'shutting down' });
    process.exit(0);
  } else {
    send(404, { error: 'not found' });
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`Plugin listening on port ${PORT}`);
});
