#!/usr/bin/env node
/** `berthd`: the engine daemon's command line (berthd-main.ts). */
import { runBerthd } from './berthd-main.js';

/** Resolves once the API listens: the VM's agent imports this module to run berthd in itself. */
export const listening = runBerthd(process.argv.slice(2));
