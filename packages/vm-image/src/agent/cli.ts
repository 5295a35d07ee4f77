/**
 * The agent's entry in the image (agent.mjs), when agent.sh has no startup snapshot to start
 * from: berthd is imported from beside this file, sharing its chunks; after ready, the snapshot
 * for the next boots is made (snapshot-build.ts).
 */
import { log } from './console.js';
import { startEngineInProcess } from './engine.js';
import { runAgent } from './main.js';
import { buildSnapshotInBackground } from './snapshot-build.js';

const BERTHD = new URL('./berthd.mjs', import.meta.url).pathname;

runAgent({
  startedFrom: 'bundle',
  startEngine: (args) => startEngineInProcess(BERTHD, args),
  afterReady: (image) => buildSnapshotInBackground(image, log),
});
