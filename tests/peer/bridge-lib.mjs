// A JSON-lines request/response loop shared by every peer bridge script.
// stdin : {"id": N, "op": "name", ...params}
// stdout: {"id": N, "ok": true, ...result} | {"id": N, "ok": false, "error": "message"}
// Each handler is `async (request) => resultObject`. Replies are written in request order.
import { createInterface } from 'node:readline';

export async function serve(handlers) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      process.stdout.write(JSON.stringify({ id: null, ok: false, error: 'bad json' }) + '\n');
      continue;
    }
    try {
      const handler = handlers[req.op];
      if (!handler) throw new Error('unknown op ' + req.op);
      const result = await handler(req);
      process.stdout.write(JSON.stringify({ id: req.id, ok: true, ...result }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: String(e?.message || e) }) + '\n');
    }
  }
}
