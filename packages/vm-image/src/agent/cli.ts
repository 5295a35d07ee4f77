/**
 * The agent service's entry in the image (agent.mjs), when it has no startup snapshot: after
 * ready, it makes the snapshots of both services for the next boots (snapshot-build.ts).
 */
import { log } from './console.js';
import { runAgent } from './main.js';
import { buildSnapshotsInBackground } from './snapshot-build.js';

runAgent({ startedFrom: 'bundle', afterReady: (image) => buildSnapshotsInBackground(image, log) });
