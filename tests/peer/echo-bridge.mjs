// A trivial bridge used by tests/test_peer_bridge.py to check the bridge plumbing itself.
import { serve } from './bridge-lib.mjs';
await serve({
  echo: async (req) => ({ value: req.value }),
  fail: async () => { throw new Error('asked to fail'); },
});
