#!/usr/bin/env node
/** `berthd`: the engine daemon's command line (berthd-main.ts). */
import { runBerthd } from './berthd-main.js';

void runBerthd(process.argv.slice(2));
