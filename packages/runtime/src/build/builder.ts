/**
 * The classic builder (moby builder/dockerfile): stages from FROM to FROM, each instruction
 * making one image from the previous — RUN in a container of the same runtime and network as
 * `docker run`, COPY/ADD/WORKDIR written into a created container, both committed through
 * `docker commit`'s code; metadata instructions only change the config (an `empty_layer`
 * history entry). Each step is looked up in the build cache first. Output lines are the
 * docker CLI's classic ones (`Step 2/7 : …`, ` ---> Running in …`, ` ---> Using cache`).
 */
import { posix } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { InvalidParameterError, NotFoundError } from '../api/errors.js';
import { withRootfs } from '../containers/rootfs-access.js';
import { resolveUser } from '../containers/user.js';
import type { ContainerService, CreateRequest } from '../containers/service.js';
import { parseSignal } from '../containers/service.js';
import type { Engine } from '../engine.js';
import { familiar } from '../images/inspect.js';
import type { ContainerConfig, Digest } from '../images/oci.js';
import { type PlatformSpec, parsePlatform } from '../images/platform.js';
import type { ProgressMessage } from '../images/progress.js';
import { pullImage } from '../images/pull.js';
import type { RegistryAuth } from '../images/registry/auth.js';
import { parseReference, withDefaultTag } from '../images/reference.js';
import { BuildCache } from './cache.js';
import { CacheFromSources } from './cache-from.js';
import {
  copyInto,
  destinationPath,
  mkdirInRoot,
  type Owner,
  resolveSources,
  sourcesDigest,
} from './copy.js';
import {
  type Dockerfile,
  type Instruction,
  parseDockerfile,
  parseDuration,
  parseLine,
} from './dockerfile.js';
import {
  type BuildImage,
  commitStep,
  loadImage,
  metadataImage,
  scratchConfig,
  storeBuildImage,
} from './images.js';
import { envMap, processWord } from './words.js';

export type BuildContainers = Pick<
  ContainerService,
  'create' | 'start' | 'wait' | 'io' | 'get' | 'remove' | 'pause' | 'unpause' | 'spec'
>;

export interface BuildDeps {
  engine: Engine;
  containers: BuildContainers;
  cache: BuildCache;
}

export interface BuildRequest {
  /** The unpacked context directory. */
  contextDir: string;
  dockerfile: string;
  /** Normalised tag references (`docker.io/library/app:latest`). */
  tags: string[];
  target?: string | undefined;
  /** `--build-arg`: a name with undefined value was named without a value. */
  buildArgs: ReadonlyMap<string, string | undefined>;
  labels: Readonly<Record<string, string>>;
  noCache: boolean;
  /** `--cache-from`: images whose history may serve steps (see cache-from.ts). */
  cacheFrom: readonly string[];
  pull: boolean;
  /** Remove a step's container once the step succeeded (`--rm`, the default). */
  remove: boolean;
  /** Remove the step containers left behind when the build fails (`--force-rm`). */
  forceRemove: boolean;
  quiet: boolean;
  platform?: PlatformSpec | undefined;
  networkMode: string;
  /** X-Registry-Config: registry host → credentials, for the pulls of FROM. */
  auths: Readonly<Record<string, RegistryAuth>>;
  output: (msg: BuildMessage) => void;
  signal?: AbortSignal | undefined;
}

export type BuildMessage = ProgressMessage & { stream?: string };

/** A failing step; `code` is what the CLI exits with (RUN's exit status). */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** Args usable without an ARG line, and kept out of history (moby's builtinAllowedBuildArgs). */
const PREDEFINED_ARGS = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

interface Stage {
  name?: string | undefined;
  from: Instruction;
  instructions: Instruction[];
}

interface StageState {
  image: BuildImage;
  /** The run config the stage's instructions edit. */
  run: ContainerConfig;
  /** ARGs declared in this stage → value (undefined: declared, no value). */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  escape: string;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** Go's %q of a []string, as moby writes CMD/ENTRYPOINT in history. */
const quoteList = (list: readonly string[]) => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;

function splitStages(df: Dockerfile): { metaArgs: Instruction[]; stages: Stage[] } {
  if (df.instructions.length === 0) throw new InvalidParameterError('file with no instructions');
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of df.instructions) {
    if (ins.keyword === 'from') {
      stages.push({
        ...(ins.args.length === 3 ? { name: (ins.args[2] ?? '').toLowerCase() } : {}),
        from: ins,
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'arg') {
        throw new InvalidParameterError(
          `dockerfile parse error line ${ins.line}: no build stage in current context`,
        );
      }
      metaArgs.push(ins);
    } else (stages[stages.length - 1] as Stage).instructions.push(ins);
  }
  if (stages.length === 0) {
    throw new InvalidParameterError('dockerfile parse error: no build stage in current context');
  }
  return { metaArgs, stages };
}

function copyConfig(c: ContainerConfig | undefined): ContainerConfig {
  return structuredClone(c ?? {});
}

/** Sets KEY in a KEY=value list, in place of an earlier value. */
function setEnv(env: readonly string[], key: string, value: string): string[] {
  const i = env.findIndex((e) => e.split('=')[0] === key);
  if (i === -1) return [...env, `${key}=${value}`];
  return env.map((e, j) => (j === i ? `${key}=${value}` : e));
}

export class Builder {
  private readonly used = new Set<string>();
  private readonly stageImages: BuildImage[] = [];
  private readonly stageNames = new Map<string, number>();
  private step = 0;
  private total = 0;
  private metaArgs = new Map<string, string | undefined>();
  /** RUN containers left behind: every one without --rm, and a failed RUN's (as moby). */
  private readonly kept: string[] = [];
  private cacheFrom: CacheFromSources | undefined;

  constructor(
    private readonly deps: BuildDeps,
    private readonly req: BuildRequest,
  ) {}

  private say(text: string): void {
    if (!this.req.quiet) this.req.output({ stream: text });
  }

  private checkAborted(): void {
    if (this.req.signal?.aborted) throw new BuildError('the build was cancelled');
  }

  async run(): Promise<{ id: Digest }> {
    try {
      return await this.runStages();
    } catch (err) {
      // moby's containerManager.RemoveAll on a failed dispatch, with --force-rm only.
      if (this.req.forceRemove)
        for (const id of this.kept.splice(0)) await this.removeContainer(id, true);
      throw err;
    }
  }

  private async runStages(): Promise<{ id: Digest }> {
    const df = parseDockerfile(this.req.dockerfile);
    const { metaArgs, stages: allStages } = splitStages(df);
    let stages = allStages;
    if (this.req.target) {
      const t = this.req.target.toLowerCase();
      const i = allStages.findIndex((s) => s.name === t);
      if (i === -1) {
        throw new InvalidParameterError(
          `failed to reach build target ${this.req.target} in Dockerfile`,
        );
      }
      stages = allStages.slice(0, i + 1);
    }
    const labels = Object.entries(this.req.labels);
    if (labels.length > 0) {
      const text = `LABEL ${labels.map(([k, v]) => `${JSON.stringify(k)}='${v.replace(/'/g, '')}'`).join(' ')}`;
      (stages[stages.length - 1] as Stage).instructions.push({ ...parseLine(text), line: 0 });
    }
    this.total = metaArgs.length + stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
    if (this.req.cacheFrom.length > 0 && !this.req.noCache) {
      this.cacheFrom = await CacheFromSources.resolve(
        this.deps.engine,
        this.req.cacheFrom,
        (text, ref) => this.deps.engine.logger.warn(text, { ref }),
      );
    }

    for (const ins of metaArgs) {
      this.say(`Step ${++this.step}/${this.total} : ${ins.original}\n`);
      for (const a of ins.args) {
        const [name, value] = this.argPair(a, this.metaEnv(), df.escape);
        this.metaArgs.set(name, this.req.buildArgs.get(name) ?? value);
        if (this.req.buildArgs.has(name)) this.used.add(name);
      }
    }

    let last: BuildImage | undefined;
    for (const [index, stage] of stages.entries()) {
      this.checkAborted();
      last = await this.buildStage(stage, df.escape);
      this.stageImages[index] = last;
      if (stage.name) this.stageNames.set(stage.name, index);
    }
    const final = last as BuildImage;

    const unused = [...this.req.buildArgs.keys()].filter(
      (k) => !this.used.has(k) && !PREDEFINED_ARGS.has(k),
    );
    if (unused.length > 0) {
      this.say(`[Warning] One or more build-args [${unused.sort().join(' ')}] were not consumed\n`);
    }
    this.req.output({ aux: { ID: final.id } });
    this.say(`Successfully built ${short(final.id)}\n`);
    for (const ref of this.req.tags) {
      await this.deps.engine.images.tag(final.id, ref);
      this.deps.engine.events.emit('image', 'tag', final.id, { name: familiar(ref) });
      this.say(`Successfully tagged ${familiar(ref)}\n`);
    }
    // With -q the CLI prints what the stream carried: just the ID.
    if (this.req.quiet) this.req.output({ stream: `${final.id}\n` });
    return { id: final.id };
  }

  private metaEnv(): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of this.metaArgs) if (v !== undefined) env.set(k, v);
    return env;
  }

  /** `name` or `name=value` (value expanded) → [name, value]. */
  private argPair(
    word: string,
    env: Map<string, string>,
    escape: string,
  ): [string, string | undefined] {
    const eq = word.indexOf('=');
    if (eq === -1) return [word, undefined];
    return [word.slice(0, eq), processWord(word.slice(eq + 1), env, escape)];
  }

  // ---- stages ----------------------------------------------------------------------------

  private async buildStage(stage: Stage, escape: string): Promise<BuildImage> {
    this.say(`Step ${++this.step}/${this.total} : ${stage.from.original}\n`);
    const image = await this.fromImage(stage.from, escape);
    this.say(` ---> ${short(image.id)}\n`);
    const state: StageState = {
      image,
      run: copyConfig(image.config.config),
      args: new Map(),
      cmdSet: false,
      escape,
    };
    if (!state.run.Env?.some((e) => e.startsWith('PATH='))) {
      state.run.Env = [...(state.run.Env ?? []), DEFAULT_PATH];
    }
    const triggers = state.run.OnBuild ?? [];
    state.run.OnBuild = null;
    if (triggers.length > 0) {
      this.say(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
      for (const t of triggers) {
        await this.dispatch(state, parseLine(t));
      }
    }
    for (const ins of stage.instructions) {
      this.checkAborted();
      this.say(`Step ${++this.step}/${this.total} : ${ins.original}\n`);
      await this.dispatch(state, ins);
      this.say(` ---> ${short(state.image.id)}\n`);
    }
    return state.image;
  }

  private async fromImage(from: Instruction, escape: string): Promise<BuildImage> {
    const name = processWord(from.args[0] ?? '', this.metaEnv(), escape);
    if (name === '') throw new InvalidParameterError('base name (${...}) should not be blank');
    const platformFlag = from.flags.platform
      ? processWord(from.flags.platform, this.metaEnv(), escape)
      : undefined;
    const platform = platformFlag ? parsePlatform(platformFlag) : this.req.platform;
    if (name.toLowerCase() === 'scratch') {
      return storeBuildImage(this.deps.engine, scratchConfig(platform), []);
    }
    const stageIndex = this.stageNames.get(name.toLowerCase());
    if (stageIndex !== undefined) return this.stageImages[stageIndex] as BuildImage;
    return this.baseImage(name, platform);
  }

  private async baseImage(name: string, platform: PlatformSpec | undefined): Promise<BuildImage> {
    const { engine } = this.deps;
    const existing = await engine.images.lookup(name);
    if (existing && !this.req.pull) return loadImage(engine, existing.id);
    const ref = withDefaultTag(parseReference(name));
    const result = await pullImage({
      ref,
      platform,
      auth: this.req.auths[ref.domain],
      registry: { insecureRegistries: engine.config.insecureRegistries },
      content: engine.content,
      snapshotter: engine.snapshots,
      imageStore: engine.images,
      onProgress: (msg) => {
        if (!this.req.quiet) this.req.output(msg);
      },
      signal: this.req.signal,
    });
    // With --pull a failed pull fails the build, as moby's pullForBuilder does: no silent
    // fallback to a stale local image.
    return loadImage(engine, result.record.id);
  }

  // ---- expansion ---------------------------------------------------------------------------

  /** The environment words expand against: the stage's args under its ENV. */
  private env(state: StageState): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of state.args) if (v !== undefined) env.set(k, v);
    for (const [k, v] of envMap(state.run.Env)) env.set(k, v);
    return env;
  }

  private expand(state: StageState, word: string): string {
    return processWord(word, this.env(state), state.escape);
  }

  /** Build args a RUN sees as env: declared ones with values (for history), then proxies. */
  private runArgs(state: StageState): { declared: string[]; proxies: string[] } {
    const env = envMap(state.run.Env);
    const declared = [...state.args]
      .filter(([k, v]) => v !== undefined && !env.has(k))
      .map(([k, v]) => `${k}=${v ?? ''}`)
      .sort();
    const proxies = [...this.req.buildArgs]
      .filter(([k, v]) => PREDEFINED_ARGS.has(k) && v !== undefined && !state.args.has(k))
      .map(([k, v]) => `${k}=${v ?? ''}`);
    return { declared, proxies };
  }

  // ---- instructions ------------------------------------------------------------------------

  private async dispatch(state: StageState, ins: Instruction): Promise<void> {
    const run = copyConfig(state.run);
    const x = (w: string) => this.expand(state, w);
    switch (ins.keyword) {
      case 'run':
        return this.runStep(state, ins);
      case 'copy':
      case 'add':
        return this.copyStep(state, ins);
      case 'workdir':
        return this.workdirStep(state, ins);
      case 'from':
        throw new InvalidParameterError('FROM is not allowed here');
      case 'env': {
        let env = [...(run.Env ?? [])];
        const parts: string[] = [];
        for (let i = 0; i < ins.args.length; i += 2) {
          const k = x(ins.args[i] ?? '');
          const v = x(ins.args[i + 1] ?? '');
          env = setEnv(env, k, v);
          parts.push(`${k}=${v}`);
        }
        run.Env = env;
        return this.metaStep(state, run, `ENV ${parts.join(' ')}`);
      }
      case 'label': {
        const labels = { ...(run.Labels ?? {}) };
        const parts: string[] = [];
        for (let i = 0; i < ins.args.length; i += 2) {
          const k = x(ins.args[i] ?? '');
          const v = x(ins.args[i + 1] ?? '');
          labels[k] = v;
          parts.push(`${k}=${v}`);
        }
        run.Labels = labels;
        return this.metaStep(state, run, `LABEL ${parts.join(' ')}`);
      }
      case 'arg': {
        const names: string[] = [];
        for (const a of ins.args) {
          const [name, dflt] = this.argPair(a, this.env(state), state.escape);
          const given = this.req.buildArgs.get(name);
          if (this.req.buildArgs.has(name)) this.used.add(name);
          const value = given ?? dflt ?? (dflt === undefined ? this.metaArgs.get(name) : undefined);
          state.args.set(name, value);
          names.push(dflt === undefined ? name : `${name}=${dflt}`);
        }
        return this.metaStep(state, run, `ARG ${names.join(' ')}`);
      }
      case 'cmd': {
        run.Cmd = ins.json ? ins.args : [...this.shell(run), ins.args[0] ?? ''];
        state.cmdSet = true;
        return this.metaStep(state, run, `CMD ${quoteList(run.Cmd)}`);
      }
      case 'entrypoint': {
        run.Entrypoint = ins.json
          ? ins.args
          : ins.args[0] === ''
            ? null
            : [...this.shell(run), ins.args[0] ?? ''];
        if (!state.cmdSet) run.Cmd = null;
        return this.metaStep(state, run, `ENTRYPOINT ${quoteList(run.Entrypoint ?? [])}`);
      }
      case 'shell':
        run.Shell = ins.args;
        return this.metaStep(state, run, `SHELL ${quoteList(ins.args)}`);
      case 'expose': {
        const ports = { ...(run.ExposedPorts ?? {}) };
        const words = ins.args.map(x);
        for (const w of words) {
          for (const p of w.split(/\s+/).filter(Boolean)) {
            const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
            if (!m) throw new InvalidParameterError(`Invalid containerPort: ${p}`);
            const lo = Number(m[1]);
            const hi = m[2] ? Number(m[2]) : lo;
            for (let port = lo; port <= hi; port++) {
              ports[`${port}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
            }
          }
        }
        run.ExposedPorts = ports;
        return this.metaStep(state, run, `EXPOSE ${words.join(' ')}`);
      }
      case 'volume': {
        const vols = { ...(run.Volumes ?? {}) };
        const list = ins.args.map(x);
        for (const v of list) {
          if (v.trim() === '')
            throw new InvalidParameterError('VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        run.Volumes = vols;
        return this.metaStep(state, run, `VOLUME [${list.join(' ')}]`);
      }
      case 'user':
        run.User = x(ins.args[0] ?? '');
        return this.metaStep(state, run, `USER ${run.User}`);
      case 'stopsignal': {
        const sig = x(ins.args[0] ?? '');
        parseSignal(sig);
        run.StopSignal = sig;
        return this.metaStep(state, run, `STOPSIGNAL ${sig}`);
      }
      case 'healthcheck': {
        const hc = ins.healthcheck;
        if (hc?.kind === 'none') run.Healthcheck = { Test: ['NONE'] };
        else if (hc) {
          const dur = (f: string) => (ins.flags[f] ? parseDuration(ins.flags[f]) : undefined);
          const retries = ins.flags.retries ? Number(ins.flags.retries) : undefined;
          if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) {
            throw new InvalidParameterError(`--retries must be at least 0`);
          }
          const interval = dur('interval');
          const timeout = dur('timeout');
          const startPeriod = dur('start-period');
          run.Healthcheck = {
            Test: hc.json ? ['CMD', ...hc.args] : ['CMD-SHELL', hc.args[0] ?? ''],
            ...(interval ? { Interval: interval } : {}),
            ...(timeout ? { Timeout: timeout } : {}),
            ...(startPeriod ? { StartPeriod: startPeriod } : {}),
            ...(retries ? { Retries: retries } : {}),
          };
        }
        return this.metaStep(state, run, ins.original.replace(/^\S+/, 'HEALTHCHECK'));
      }
      case 'onbuild': {
        const text = (ins.args[0] ?? '').trim();
        run.OnBuild = [...(run.OnBuild ?? []), text];
        return this.metaStep(state, run, `ONBUILD ${text}`);
      }
      case 'maintainer': {
        const author = x(ins.args[0] ?? '');
        state.image = { ...state.image, config: { ...state.image.config, author } };
        return this.metaStep(state, run, `MAINTAINER ${author}`);
      }
    }
  }

  private shell(run: ContainerConfig): string[] {
    return run.Shell?.length ? run.Shell : DEFAULT_SHELL;
  }

  private nop(run: ContainerConfig, text: string, twoSpaces: boolean): string {
    return [...this.shell(run), `#(nop) ${twoSpaces ? ' ' : ''}${text}`].join(' ');
  }

  /**
   * Looks a step up in this daemon's step cache, then in the --cache-from images; on a hit the
   * stage moves to that image.
   */
  private async cached(
    state: StageState,
    key: string,
    createdBy: string,
    { fromSources = true } = {},
  ): Promise<boolean> {
    if (this.req.noCache) return false;
    const hit =
      (await this.localCacheHit(key)) ??
      (fromSources ? await this.cacheFromHit(state, key, createdBy) : undefined);
    if (!hit) return false;
    state.image = hit;
    this.say(' ---> Using cache\n');
    return true;
  }

  private async localCacheHit(key: string): Promise<BuildImage | undefined> {
    const id = await this.deps.cache.get(key);
    if (!id || !(await this.deps.engine.images.get(id))) return undefined;
    return loadImage(this.deps.engine, id).catch(() => undefined);
  }

  private async cacheFromHit(
    state: StageState,
    key: string,
    createdBy: string,
  ): Promise<BuildImage | undefined> {
    if (!this.cacheFrom || this.cacheFrom.empty) return undefined;
    const parent = state.image;
    const image = await this.cacheFrom.probe(parent, createdBy, state.run);
    // Remembered as a step of this daemon: the next build finds it without --cache-from.
    if (image) await this.deps.cache.set(key, image.id, parent.id);
    return image;
  }

  private async remember(state: StageState, key: string, parent: Digest): Promise<void> {
    await this.deps.cache.set(key, state.image.id, parent);
  }

  private async metaStep(state: StageState, run: ContainerConfig, comment: string): Promise<void> {
    const createdBy = this.nop(run, comment, true);
    const parent = state.image.id;
    const key = BuildCache.key(parent, { createdBy, run, author: state.image.config.author });
    state.run = run;
    if (await this.cached(state, key, createdBy)) return;
    state.image = await metadataImage(this.deps.engine, state.image, run, createdBy);
    await this.remember(state, key, parent);
  }

  // ---- steps in containers ---------------------------------------------------------------

  private async createContainer(state: StageState, cmd: string[], env: string[]): Promise<string> {
    const body: CreateRequest = {
      Image: state.image.id,
      Cmd: cmd,
      Entrypoint: [''],
      Env: env,
      User: state.run.User ?? '',
      WorkingDir: state.run.WorkingDir ?? '',
      Labels: {},
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { NetworkMode: this.req.networkMode },
    };
    const { Id } = await this.deps.containers.create(body, undefined);
    return Id;
  }

  private async removeContainer(id: string, announce: boolean): Promise<void> {
    await this.deps.containers.remove(id, { force: true, volumes: true }).catch((err: unknown) => {
      this.deps.engine.logger.warn('build: removing an intermediate container failed', { id, err });
    });
    if (announce) this.say(`Removing intermediate container ${short(id)}\n`);
  }

  /** Runs `fn` on a created (not started) container's mounted rootfs, then commits it. */
  private async fileStep(
    state: StageState,
    createdBy: string,
    fn: (rootfs: string) => Promise<void>,
  ): Promise<void> {
    const { engine, containers } = this.deps;
    const id = await this.createContainer(
      state,
      [...this.shell(state.run), createdBy],
      state.run.Env ?? [],
    );
    try {
      const view = containers.get(id);
      await withRootfs(view, engine.config.dataRoot, () => false, fn);
      state.image = await commitStep(engine, containers, id, state.image, state.run, createdBy);
    } finally {
      await this.removeContainer(id, false);
    }
  }

  private async runStep(state: StageState, ins: Instruction): Promise<void> {
    const { engine, containers } = this.deps;
    const cmd = ins.json ? ins.args : [...this.shell(state.run), ins.args[0] ?? ''];
    const { declared, proxies } = this.runArgs(state);
    const createdBy = `${declared.length ? `|${declared.length} ${declared.join(' ')} ` : ''}${cmd.join(' ')}`;
    const parent = state.image.id;
    const key = BuildCache.key(parent, { createdBy, run: state.run });
    if (await this.cached(state, key, createdBy)) return;

    const id = await this.createContainer(state, cmd, [
      ...(state.run.Env ?? []),
      ...declared,
      ...proxies,
    ]);
    this.say(` ---> Running in ${short(id)}\n`);
    let ok = false;
    try {
      const rec = containers.get(id).record;
      const io = containers.io(rec);
      // One decoder per stream: a UTF-8 character may straddle two chunks.
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const offChunk = io.onChunk((c) => {
        const text = decoders[c.stream].write(c.data);
        if (text) this.say(text);
      });
      let offEnd: () => void = () => undefined;
      const outputEnded = new Promise<void>((resolve) => {
        offEnd = io.onRunEnd(() => resolve());
      });
      const aborted = new AbortController();
      const onAbort = () => aborted.abort();
      this.req.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const exited = containers.wait(id, 'next-exit', aborted.signal);
        exited.catch(() => undefined);
        await containers.start(id);
        const cancelled = new Promise<never>((_, reject) => {
          aborted.signal.addEventListener(
            'abort',
            () => reject(new BuildError('the build was cancelled')),
            {
              once: true,
            },
          );
        });
        cancelled.catch(() => undefined);
        const { StatusCode } = await Promise.race([exited, cancelled]);
        // Output drains after the exit; bounded, so a stuck pipe cannot hold the build.
        await Promise.race([outputEnded, new Promise((r) => setTimeout(r, 10_000).unref())]);
        if (StatusCode !== 0) {
          throw new BuildError(
            `The command '${cmd.join(' ')}' returned a non-zero code: ${StatusCode}`,
            StatusCode,
          );
        }
      } finally {
        offChunk();
        offEnd();
        this.req.signal?.removeEventListener('abort', onAbort);
      }
      state.image = await commitStep(engine, containers, id, state.image, state.run, createdBy);
      ok = true;
    } finally {
      // A cancelled build kills and removes its container, as moby does; a failed RUN's stays
      // for inspection unless --force-rm.
      if (ok ? this.req.remove : this.req.signal?.aborted === true)
        await this.removeContainer(id, ok);
      else this.kept.push(id);
    }
    await this.remember(state, key, parent);
  }

  private async workdirStep(state: StageState, ins: Instruction): Promise<void> {
    const dir = this.expand(state, ins.args[0] ?? '');
    const run = copyConfig(state.run);
    run.WorkingDir = posix.normalize(
      dir.startsWith('/') ? dir : posix.join(run.WorkingDir || '/', dir),
    );
    const createdBy = this.nop(run, `WORKDIR ${run.WorkingDir}`, false);
    const parent = state.image.id;
    const key = BuildCache.key(parent, { createdBy, run });
    state.run = run;
    if (await this.cached(state, key, createdBy)) return;
    await this.fileStep(state, createdBy, async (rootfs) => {
      await mkdirInRoot(rootfs, run.WorkingDir ?? '/');
    });
    await this.remember(state, key, parent);
  }

  /** Runs `fn` with the root COPY/ADD reads from: the context, or an image's rootfs. */
  private async withSourceRoot<T>(
    state: StageState,
    from: string | undefined,
    fn: (root: string, inContext: boolean) => Promise<T>,
  ): Promise<T> {
    if (from === undefined) return fn(this.req.contextDir, true);
    const { engine, containers } = this.deps;
    let image: BuildImage;
    const byIndex = /^\d+$/.test(from) ? Number(from) : undefined;
    const stage = byIndex ?? this.stageNames.get(from.toLowerCase());
    if (stage !== undefined) {
      const img = this.stageImages[stage];
      if (!img)
        throw new InvalidParameterError(
          `invalid from flag value ${from}: refers to current build stage`,
        );
      image = img;
    } else {
      try {
        image = await this.baseImage(from, this.req.platform);
      } catch (err) {
        if (err instanceof NotFoundError) {
          throw new InvalidParameterError(`invalid from flag value ${from}: ${err.message}`);
        }
        throw err;
      }
    }
    const sourceState: StageState = { ...state, image, run: copyConfig(image.config.config) };
    const id = await this.createContainer(sourceState, ['true'], []);
    try {
      return await withRootfs(
        containers.get(id),
        engine.config.dataRoot,
        () => false,
        (root) => fn(root, false),
      );
    } finally {
      await this.removeContainer(id, false);
    }
  }

  private async chownOwner(rootfs: string, spec: string | undefined): Promise<Owner | undefined> {
    if (!spec) return undefined;
    const [user = '', group = user] = spec.split(':', 2);
    const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
    const uid = num(user) ?? (await resolveUser(rootfs, user)).uid;
    const gid = num(group) ?? (await resolveUser(rootfs, `0:${group}`)).gid;
    return { uid, gid };
  }

  private async copyStep(state: StageState, ins: Instruction): Promise<void> {
    const keyword = ins.keyword === 'add' ? 'ADD' : 'COPY';
    const words = ins.args.map((a) => this.expand(state, a));
    const dest = words[words.length - 1] ?? '';
    const srcs = words.slice(0, -1);
    const from = ins.flags.from !== undefined ? this.expand(state, ins.flags.from) : undefined;
    const chown = ins.flags.chown !== undefined ? this.expand(state, ins.flags.chown) : undefined;
    const chmodFlag = ins.flags.chmod;
    let mode: number | undefined;
    if (chmodFlag !== undefined) {
      if (!/^[0-7]{3,4}$/.test(chmodFlag))
        throw new InvalidParameterError(`invalid chmod parameter: ${chmodFlag}`);
      mode = Number.parseInt(chmodFlag, 8);
    }
    await this.withSourceRoot(state, from, async (root, inContext) => {
      const sources = await resolveSources(root, srcs, keyword, inContext);
      const hash = await sourcesDigest(sources);
      const destPath = destinationPath(dest, state.run.WorkingDir ?? '/');
      const createdBy = this.nop(
        state.run,
        `${keyword} ${hash} in ${dest.endsWith('/') && !destPath.endsWith('/') ? `${destPath}/` : destPath} `,
        false,
      );
      const parent = state.image.id;
      const key = BuildCache.key(parent, { createdBy, run: state.run, chown, mode, from });
      // History does not record --chown/--chmod (moby's created_by leaves them out), so a
      // --cache-from image cannot tell whether its files got the owner and mode asked for.
      const fromSources = chown === undefined && mode === undefined;
      if (await this.cached(state, key, createdBy, { fromSources })) return;
      await this.fileStep(state, createdBy, async (rootfs) => {
        const owner = await this.chownOwner(rootfs, chown);
        await copyInto(rootfs, {
          keyword,
          sources,
          dest,
          workdir: state.run.WorkingDir ?? '/',
          owner,
          mode,
        });
      });
      await this.remember(state, key, parent);
    });
  }
}

/** Runs a whole build; failures are thrown (the route reports them on the stream). */
export function runBuild(deps: BuildDeps, req: BuildRequest): Promise<{ id: Digest }> {
  return new Builder(deps, req).run();
}
