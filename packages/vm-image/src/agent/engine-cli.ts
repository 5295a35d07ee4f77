/** The engine service's entry in the image (engine.mjs), when it has no startup snapshot. */
import { runEngine } from './engine-main.js';

runEngine({ startedFrom: 'bundle' });
