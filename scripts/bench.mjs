#!/usr/bin/env node
// Pull benchmark (see packages/runtime/src/bench/pull.ts): skopeo copy (the floor) against
// docker pull and POST /images/create through fresh berthd daemons, 3 runs each, medians.
// Prints a table and writes bench-results/pull-<date>.json. Local only: a loopback registry.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const outDir = join(root, 'bench-results');
mkdirSync(outDir, { recursive: true });

// `npm run bench -- vm containers` runs only the sections named; no names: all of them.
const SECTIONS = ['pull', 'build', 'containers', 'desktop', 'vm'];
const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !SECTIONS.includes(a));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; sections: ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const want = (section) => asked.length === 0 || asked.includes(section);

if (want('pull')) {
  const { runPullBench } = await import(join(root, 'packages/runtime/dist/bench/pull.js'));
  const result = await runPullBench({ repetitions, log: (l) => console.log(l) });

  const mb = result.image.contentBytes / 1e6;
  const row = (name, way) => {
    const ms = result.medians[way];
    const runs = result.runs[way].map((x) => x.toFixed(0)).join(', ');
    const ratio = way === 'skopeo' ? '1.00' : (ms / result.medians.skopeo).toFixed(2);
    return `| ${name.padEnd(28)} | ${ms.toFixed(0).padStart(7)} | ${(mb / (ms / 1000)).toFixed(1).padStart(6)} | ${ratio.padStart(5)} | ${runs}`;
  };
  console.log(
    `\nimage ${result.image.ref} (${result.image.layers} layers, ${mb.toFixed(0)} MB), ${repetitions} runs, medians`,
  );
  console.log('| way                          | ms      | MB/s   | ratio | runs (ms)');
  console.log('|------------------------------|---------|--------|-------|----------');
  console.log(row('skopeo copy → dir: (floor)', 'skopeo'));
  console.log(row('docker pull via berthd', 'dockerPull'));
  console.log(row('POST /images/create (berthd)', 'apiCreate'));
  const dl = result.apiDownloadsDoneMs.map((x) => x.toFixed(0)).join(', ');
  console.log(
    `API runs: last "Download complete" at ${dl} ms (the rest is unpacking and committing)`,
  );
  const worst = Math.max(result.ratios.dockerPull, result.ratios.apiCreate);
  console.log(
    `\nberthd/skopeo: docker pull ${result.ratios.dockerPull.toFixed(2)}, API ${result.ratios.apiCreate.toFixed(2)} (target ≤ ${result.target}) ${worst <= result.target ? 'OK' : 'OVER TARGET'}`,
  );

  const file = join(outDir, `pull-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

// Build benchmark (packages/runtime/src/bench/build.ts): a 10-step classic `docker build`
// with and without cache, against `docker run --rm` latency and a FROM-only build.
if (want('build')) {
  const { runBuildBench } = await import(join(root, 'packages/runtime/dist/bench/build.js'));
  const b = await runBuildBench({ repetitions, log: (l) => console.log(l) });
  const cell = (way) =>
    `${b.medians[way].toFixed(0).padStart(7)} | ${b.runs[way].map((x) => x.toFixed(0)).join(', ')}`;
  console.log(`\n${b.steps}-step docker build (classic builder), ${repetitions} runs, medians`);
  console.log('| way                               | ms      | runs (ms)');
  console.log('|-----------------------------------|---------|----------');
  console.log(`| build --no-cache                  | ${cell('uncached')}`);
  console.log(`| build, every step cached          | ${cell('cached')}`);
  console.log(`| build FROM-only (context floor)   | ${cell('fromOnly')}`);
  console.log(`| docker run --rm busybox true      | ${cell('runRm')}`);
  console.log(
    `cached rebuild / run --rm ${b.ratios.cachedVsRun.toFixed(2)}, / FROM-only build ${b.ratios.cachedVsContext.toFixed(2)}; uncached / cached ${b.ratios.uncachedVsCached.toFixed(1)}`,
  );
  const buildFile = join(outDir, `build-${b.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(buildFile, `${JSON.stringify(b, null, 2)}\n`);
  console.log(`wrote ${buildFile}`);
}

// Containers (packages/runtime/src/bench/containers.ts): docker run --rm against runc run +
// docker version (and dockerd as the peer where it starts), ps -a with 100 containers,
// 10 run -d in parallel, berthd's RSS. Cheap per run, so 3× the repetitions.
if (want('containers')) {
  const { runContainersBench } = await import(
    join(root, 'packages/runtime/dist/bench/containers.js')
  );
  const c = await runContainersBench({
    repetitions: repetitions * 3,
    parallelRepetitions: repetitions,
    log: (l) => console.log(l),
  });
  const ok = (ratio, target) => (ratio <= target ? 'OK' : 'OVER TARGET');
  const line = (name, s, ratio = '') =>
    `| ${name.padEnd(46)} | ${s.median.toFixed(0).padStart(6)} | ${s.min.toFixed(0).padStart(5)}–${s.max.toFixed(0).padEnd(5)} | ${(s.spread * 100).toFixed(0).padStart(5)}% | ${ratio}`;
  const la = (xs) => xs.map((x) => x.toFixed(1)).join(' ');
  console.log(
    `\ncontainers: ${c.repetitions} runs per way, interleaved; load average ${la(c.load.start)} → ${la(c.load.end)} (2 cores)`,
  );
  console.log(
    '| way                                            | med ms | min–max ms  | spread | vs floor',
  );
  console.log(
    '|------------------------------------------------|--------|-------------|--------|---------',
  );
  const r = c.run;
  const vsFloor = (s) => (s.median / c.floorMs).toFixed(2);
  console.log(line('runc run of a prepared bundle', r.runcRun));
  console.log(line('docker version (berthd)', r.berthdVersion));
  console.log(
    `| floor = runc run + docker version              | ${c.floorMs.toFixed(0).padStart(6)} |`,
  );
  console.log(line('docker run --rm busybox true (berthd)', r.berthdRunRm, vsFloor(r.berthdRunRm)));
  console.log(
    line(
      'docker run --rm --network none (berthd)',
      r.berthdRunRmNoNet,
      vsFloor(r.berthdRunRmNoNet),
    ),
  );
  console.log(
    line('API create+start+wait+delete (berthd)', r.apiLifecycle, vsFloor(r.apiLifecycle)),
  );
  if (r.dockerdRunRm) {
    console.log(line('docker version (dockerd)', r.dockerdVersion));
    console.log(line('docker run --rm busybox true (dockerd, no net)', r.dockerdRunRm));
  }
  console.log(
    `berthd run --rm / floor ${c.ratios.cliVsFloor.toFixed(2)} (target ≤ ${c.targets.vsFloor}) ${ok(c.ratios.cliVsFloor, c.targets.vsFloor)}; API / floor ${c.ratios.apiVsFloor.toFixed(2)}`,
  );
  if (c.ratios.berthdVsDockerd !== undefined)
    console.log(
      `berthd/dockerd run --rm, both without a network: ${c.ratios.berthdVsDockerd.toFixed(2)} (target ≤ ${c.targets.vsDockerd}) ${ok(c.ratios.berthdVsDockerd, c.targets.vsDockerd)}`,
    );
  else console.log(`dockerd peer skipped: ${c.peerSkipped}`);
  const bd = c.apiBreakdown;
  const f = (x) => (x === undefined ? '?' : x.toFixed(0));
  console.log(
    `API lifecycle (medians, ms): create ${f(bd.create)}, start ${f(bd.start)} [prepare ${f(bd.prepare)} → shim+runc start ${f(bd.runcStart)}], ` +
      `wait ${f(bd.wait)} [run ${f(bd.running)} → exit handled ${f(bd.finish)}], delete ${f(bd.delete)}`,
  );
  const cb = c.cliBreakdown;
  console.log(
    `CLI run --rm as berthd logged it (ms): create ${f(cb.create)}, start ${f(cb.start)}, wait (sent before start, ends at removal) ${f(cb.wait)}`,
  );
  const s = c.scale;
  const kib = (x) => `${(x / 1024).toFixed(0)} MiB`;
  console.log(
    `\n| scale (berthd)                                 | med ms | min–max ms  | spread | ratio`,
  );
  console.log(
    '|------------------------------------------------|--------|-------------|--------|------',
  );
  console.log(
    line(
      `docker ps -a with ${s.containers} created`,
      s.ps,
      `${s.psVsVersion.toFixed(2)} × version`,
    ),
  );
  console.log(line('docker version', s.version));
  console.log(line('one docker run -d … sleep 30', s.singleRunD));
  console.log(
    line(
      `${s.parallel} docker run -d in parallel (wall)`,
      s.parallelRunD,
      `${(s.parallelRunD.median / s.singleRunD.median).toFixed(2)} × one`,
    ),
  );
  console.log(`${s.containers} × docker create (4 at a time): ${s.createAllMs.toFixed(0)} ms`);
  console.log(
    `berthd VmRSS: fresh ${kib(s.rssKiB.fresh)}, idle ${kib(s.rssKiB.idle)}, with ${s.containers} containers ${kib(s.rssKiB.withContainers)}, with ${s.parallel + 1} running ${kib(s.rssKiB.withParallelRunning)}`,
  );
  const cfile = join(outDir, `containers-${c.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(cfile, `${JSON.stringify(c, null, 2)}\n`);
  console.log(`wrote ${cfile}`);
}

// Desktop (e2e/bench/desktop.ts): start → interactive, the dashboard server's memory, and a
// list of 200 containers. Skipped with its reason when a real part (Chromium, root…) is missing.
const desktopSkip = want('desktop')
  ? (await import(join(root, 'e2e/dist/support/stack.js'))).e2eSkip()
  : false;
if (!want('desktop')) {
  // not asked for
} else if (desktopSkip) console.log(`\ndesktop bench skipped: ${desktopSkip}`);
else {
  const { runDesktopBench } = await import(join(root, 'e2e/dist/bench/desktop.js'));
  const d = await runDesktopBench({ log: (l) => console.log(l) });
  console.log('\n| desktop                                  | value');
  console.log('|------------------------------------------|----------');
  console.log(`| server start → URL printed               | ${d.serverStartMs} ms`);
  console.log(`| page → Containers with the engine state  | ${d.pageInteractiveMs} ms`);
  console.log(
    `| start → first interactive render         | ${d.startToInteractiveMs} ms median of ${d.starts.join(', ')} (target < ${d.target.startToInteractiveMs}) ${d.startToInteractiveMs < d.target.startToInteractiveMs ? 'OK' : 'OVER TARGET'}`,
  );
  console.log(
    `| first contentful paint                   | ${d.firstContentfulPaintMs?.toFixed(0) ?? '?'} ms`,
  );
  console.log(
    `| dashboard server RSS idle / 200 listed   | ${d.serverRssIdleMiB.toFixed(0)} / ${d.serverRssListingMiB.toFixed(0)} MiB`,
  );
  console.log(`| ${d.containers} containers: list rendered         | ${d.listRenderMs} ms`);
  console.log(`| ${d.containers} containers: one search keystroke  | ${d.searchKeystrokeMs} ms`);
  const dfile = join(outDir, `desktop-${d.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(dfile, `${JSON.stringify(d, null, 2)}\n`);
  console.log(`wrote ${dfile}`);
}

// VM (packages/machine/src/bench/vm.ts): boot to engine-ready against the `node -e 0` and
// bare-busybox floors, the idle guest's memory and QEMU's RSS/CPU, forwarded-port throughput
// against QEMU's hostfwd, and docker run --rm through the bridge against berthd on this host.
if (want('vm')) {
  const { runVmBench, vmBenchSkip } = await import(join(root, 'packages/machine/dist/bench/vm.js'));
  const { verdictText } = await import(join(root, 'packages/machine/dist/bench/measure.js'));
  const vmSkip = await vmBenchSkip();
  if (vmSkip) console.log(`\nvm bench skipped: ${vmSkip}`);
  else {
    // Boots dominate (tens of seconds each under TCG): 2 rounds unless asked for more.
    const vmRepetitions = Number(process.env.BENCH_VM_REPETITIONS ?? 2);
    // BENCH_VM_PARTS=throughput (comma-separated: boot, idle, throughput, run-rm) runs a subset.
    const vmParts = process.env.BENCH_VM_PARTS?.split(',').map((p) => p.trim());
    const v = await runVmBench({
      repetitions: vmRepetitions,
      ...(vmParts ? { parts: vmParts } : {}),
      throughputRepetitions: Number(process.env.BENCH_VM_THROUGHPUT_REPETITIONS ?? 5),
      log: (l) => console.log(l),
    });
    const la = (xs) => xs.map((x) => x.toFixed(1)).join(' ');
    const line = (name, s, unit, extra = '') =>
      `| ${name.padEnd(44)} | ${s.median.toFixed(unit === 'ms' ? 0 : 1).padStart(7)} ${unit.padEnd(4)} | ${s.min.toFixed(unit === 'ms' ? 0 : 1).padStart(6)}–${s.max.toFixed(unit === 'ms' ? 0 : 1).padEnd(6)} | ${extra}`;
    const b = v.boot;
    const up = (s) => `guest uptime ${s.median.toFixed(2)} s`;
    console.log(
      `\nvm: ${v.accelerator}, ${v.cpus} vCPUs, ${v.memoryMiB} MiB, image ${v.image.key}; parts ${v.parts.join(', ')}; ${v.repetitions} boots each, interleaved; load average ${la(v.load.start)} → ${la(v.load.end)}`,
    );
    if (b) {
      console.log(
        '| boot (QEMU launched → …)                     | median       | min–max       | ',
      );
      console.log(
        '|----------------------------------------------|--------------|---------------|----------',
      );
      console.log(
        line(
          'bare busybox initramfs → shell (floor b)',
          b.busybox,
          'ms',
          up(b.guestUptime.busybox),
        ),
      );
      console.log(line('same image → node -e 0 (floor a)', b.node, 'ms', up(b.guestUptime.node)));
      console.log(
        line(
          'engine-ready: /_ping through the host socket',
          b.engine,
          'ms',
          up(b.guestUptime.engineReady),
        ),
      );
      console.log(
        `first boot of a fresh machine (formats the data disk): ${b.engineFirstMs.toFixed(0)} ms`,
      );
      console.log(
        `engine stages (median ms from launch): ${Object.entries(b.stages)
          .map(([k, ms]) => `${k} ${ms.toFixed(0)}`)
          .join(', ')}`,
      );
      console.log(
        `engine-ready / node -e 0 floor ${verdictText(v.ratios.engineVsNodeFloor)}; / busybox floor ${v.ratios.engineVsBusybox.toFixed(2)}; node floor / busybox floor ${v.ratios.nodeFloorVsBusybox.toFixed(2)}`,
      );
    }
    const i = v.idle;
    if (i) {
      console.log(
        `\nidle berthd: guest MemTotal−MemAvailable ${i.guestUsedMB.toFixed(0)} MB (target ≤ ${v.targets.guestUsedMB}) ${v.guestUsedOk ? 'OK' : 'OVER TARGET'}; QEMU VmRSS ${i.qemuRssMB.toFixed(0)} MB; QEMU CPU over ${i.windowSeconds} s idle ${i.cpuPercent.toFixed(1)} % of a core`,
      );
      console.log(
        `  in the guest (VmRSS, MB): ${Object.entries(i.guestRssMB)
          .map(([k, mb]) => `${k} ${mb.toFixed(0)}`)
          .join(', ')}`,
      );
    }
    const t = v.throughput;
    if (t) {
      console.log(
        `\n| ${(t.bytes / 1024 / 1024).toFixed(0)} MiB per connection, published port     | median       | min–max       |`,
      );
      console.log(
        '|----------------------------------------------|--------------|---------------|',
      );
      console.log(
        line(`Berth's forwarder (served by ${t.forwarderListener})`, t.forwarderMBps, 'MB/s'),
      );
      console.log(line("QEMU's hostfwd of the same guest port", t.hostfwdMBps, 'MB/s'));
      console.log(line('ssh path (drivers without a native forward)', t.sshPathMBps, 'MB/s'));
      console.log(
        `forwarder / hostfwd ${verdictText(v.ratios.forwarderVsHostfwd)}; per interleaved pair: median ${t.pairRatio.median.toFixed(2)} (${t.pairRatio.min.toFixed(2)}–${t.pairRatio.max.toFixed(2)})`,
      );
    }
    const r = v.runRm;
    if (r) {
      console.log(
        '\n| docker run --rm busybox true                 | median       | min–max       |',
      );
      console.log(
        '|----------------------------------------------|--------------|---------------|',
      );
      console.log(line('through the bridge (berthd in the VM)', r.bridge, 'ms'));
      if (r.native) {
        console.log(line('native (berthd on this host)', r.native, 'ms'));
        console.log(`bridge / native ${v.ratios.bridgeVsNative.toFixed(2)}`);
      } else console.log(`native peer skipped: ${r.nativeSkipped}`);
    }
    const vfile = join(outDir, `vm-${v.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(vfile, `${JSON.stringify(v, null, 2)}\n`);
    console.log(`wrote ${vfile}`);
  }
}
