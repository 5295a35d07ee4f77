/**
 * What berthd does with its containers at start (moby's daemon.restore): a container the
 * store says is running either still has its shim — berthd reattaches to its FIFOs and goes
 * on — or the shim is gone, and the container is marked exited with the status the shim wrote
 * (255 and an Error when it wrote none), its mounts, sandbox and runtime state released.
 * Afterwards the restart policies decide which containers start again.
 */
import { existsSync, statSync } from 'node:fs';
import { isMountPoint, mountRootfs, rootfsPaths, unmountRootfs } from './rootfs.js';
import type { ContainerService } from './service.js';
import { readExitFile, reattachShim, shimAlive, shimPaths } from './shim.js';
import { restartOnDaemonStart } from './restart.js';
import { setStopped } from './state.js';

export interface RecoveryReport {
  reattached: string[];
  exited: string[];
}

/** Brings the running state of every stored container in line with reality. */
export async function recoverContainers(
  service: ContainerService,
  dataRoot: string,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { reattached: [], exited: [] };
  for (const rec of service.list()) {
    const dir = service.dir(rec.ID);
    const paths = shimPaths(dir);
    if (!rec.State.Running) {
      unmountRootfs(rootfsPaths(dir));
      // Stopped by a daemon shutdown before its removal could happen (moby's restore does the same).
      if (rec.HostConfig.AutoRemove && rec.HasBeenStartedBefore) {
        await service.remove(rec.ID, { force: true, volumes: true });
      }
      continue;
    }
    if (rec.State.Restarting) {
      // The restart was pending when berthd went away; the policy decides again below.
      setStopped(rec.State, { exitCode: rec.State.ExitCode }, Date.parse(rec.State.FinishedAt));
      await service.store.save(rec);
      continue;
    }
    const shim = rec.Shim;
    // An exit file means the shim is done, even if its process lingers unreaped.
    if (shim && shimAlive(shim.pid, shim.startTime) && !existsSync(paths.exitFile)) {
      // A crashed berthd's caller may have unmounted the rootfs on the host side; the container
      // keeps its own view, but exec and cp need the host's.
      if (!isMountPoint(rootfsPaths(dir).rootfs)) {
        await mountRootfs(rootfsPaths(dir), await service.lowerDirs(rec), dataRoot).catch(
          () => undefined,
        );
      }
      service.adopt(rec, reattachShim(shim, paths));
      report.reattached.push(rec.ID);
      continue;
    }
    const code = await readExitFile(paths);
    let at: number | undefined;
    try {
      at = statSync(paths.exitFile).mtimeMs;
    } catch {
      at = undefined;
    }
    await service.finishRun(
      rec,
      code === undefined
        ? { exitCode: 255, error: 'container shim exited while berthd was down, without a status' }
        : { exitCode: code },
      at,
      { restart: false },
    );
    report.exited.push(rec.ID);
    if (rec.HostConfig.AutoRemove) await service.remove(rec.ID, { force: true, volumes: true });
  }
  return report;
}

/** Starts the containers whose restart policy wants them running after a daemon start. */
export async function autoRestart(
  service: ContainerService,
  onError: (id: string, err: unknown) => void,
): Promise<string[]> {
  const started: string[] = [];
  for (const rec of service.list()) {
    if (rec.State.Running) continue;
    if (!rec.HasBeenStartedBefore) continue;
    const wanted = restartOnDaemonStart(rec.HostConfig.RestartPolicy, {
      manuallyStopped: rec.HasBeenManuallyStopped,
      exitCode: rec.State.ExitCode,
    });
    if (!wanted) continue;
    try {
      await service.autoStart(rec);
      started.push(rec.ID);
    } catch (err) {
      onError(rec.ID, err);
    }
  }
  return started;
}
