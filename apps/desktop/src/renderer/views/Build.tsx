/**
 * Build: a folder (chosen with the native picker in Electron, typed or pasted in the dashboard,
 * which runs on the same machine) is built by the engine; its log streams in as it comes, and
 * the image it makes can be run straight away.
 */
import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import type { BuildOutput, BuildRequest } from '../../shared/contract.js';
import { EmptyState, ErrorBanner } from '../components/common.js';
import { View } from '../components/View.js';
import { newId, shortId } from '../format.js';
import { errorText, useBerth } from '../state.js';
import { AnsiText } from '../components/AnsiText.js';
import { RunDialog } from './RunDialog.js';

/** `KEY=value` lines → a map; the first line that is not one is returned as `bad`. */
export function parseKeyValues(text: string): { map: Record<string, string>; bad?: string } {
  const map: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { map, bad: line };
    map[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { map };
}

/** `app:1.0, app:latest` or one per line → tags. */
export function parseTags(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

const MAX_LOG_CHARS = 500_000;

/** A textarea of `KEY=value` lines that points at the first line that is not one. */
function KeyValueField(props: {
  name: string;
  label: string;
  noun: string;
  value: string;
  onChange: (v: string) => void;
  bad: string | undefined;
  disabled: boolean;
}) {
  return (
    <label className="grow">
      <span className="label">{props.label} (KEY=value, one per line)</span>
      <textarea
        name={props.name}
        rows={2}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.bad !== undefined}
        disabled={props.disabled}
      />
      {props.bad !== undefined && (
        <span className="hint bad">
          {props.bad}: write a {props.noun} as KEY=value.
        </span>
      )}
    </label>
  );
}

type Outcome = { imageId: string; tags: string[] } | { error: string };

interface FormState {
  folder: string;
  dockerfile: string;
  tags: string;
  buildArgs: string;
  labels: string;
  target: string;
  noCache: boolean;
  pull: boolean;
}

interface BuildRun {
  buildId: string;
  log: string;
  outcome?: Outcome;
}

/**
 * The form and the last build live outside the view, for the page's life: a build goes on (and
 * its log is kept) while another section is open, and coming back shows it with its Run button.
 */
const store = {
  form: {
    folder: '',
    dockerfile: 'Dockerfile',
    tags: '',
    buildArgs: '',
    labels: '',
    target: '',
    noCache: false,
    pull: false,
  } as FormState,
  run: undefined as BuildRun | undefined,
  listeners: new Set<() => void>(),
  setRun: (next: BuildRun | undefined): void => {
    store.run = next;
    for (const l of store.listeners) l();
  },
  subscribe: (listener: () => void): (() => void) => {
    store.listeners.add(listener);
    return () => store.listeners.delete(listener);
  },
};

function startBuild(berth: ReturnType<typeof useBerth>, request: BuildRequest): void {
  const { buildId } = request;
  store.setRun({ buildId, log: '' });
  const off = berth.on('build.output', (o: BuildOutput) => {
    const run = store.run;
    if (o.buildId !== buildId || o.stream === undefined || run?.buildId !== buildId) return;
    store.setRun({ ...run, log: (run.log + o.stream).slice(-MAX_LOG_CHARS) });
  });
  const finish = (outcome: Outcome) => {
    off();
    if (store.run?.buildId === buildId) store.setRun({ ...store.run, outcome });
  };
  berth
    .invoke('build.run', request)
    .then(finish, (err: unknown) => finish({ error: errorText(err) }));
}

export function BuildView(props: { onStarted: (id: string) => void }) {
  const berth = useBerth();
  const [form, setForm] = useState(store.form);
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) =>
    setForm((f) => (store.form = { ...f, [key]: value }));
  const { folder, dockerfile, tags, buildArgs, labels, target, noCache, pull } = form;
  const run = useSyncExternalStore(store.subscribe, () => store.run);
  const [pickerMissing, setPickerMissing] = useState(false);
  const [running, setRunning] = useState<string>();
  const folderInput = useRef<HTMLInputElement>(null);
  const pre = useRef<HTMLPreElement>(null);

  const args = parseKeyValues(buildArgs);
  const labelMap = parseKeyValues(labels);
  const buildId = run?.buildId;
  const log = run?.log ?? '';
  const outcome = run?.outcome;
  const building = run !== undefined && outcome === undefined;

  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log, outcome]);

  const choose = () => {
    berth.invoke('dialog.pickFolder', {}).then(
      (path) => {
        if (path) set('folder', path);
        else {
          setPickerMissing(true);
          folderInput.current?.focus();
        }
      },
      () => setPickerMissing(true),
    );
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    startBuild(berth, {
      buildId: newId('build'),
      context: folder.trim(),
      dockerfile: dockerfile.trim() || 'Dockerfile',
      tags: parseTags(tags),
      buildArgs: args.map,
      labels: labelMap.map,
      target: target.trim() || undefined,
      noCache,
      pull,
    });
  };

  const cancel = () => {
    if (buildId) void berth.invoke('stream.cancel', { streamId: buildId }).catch(() => undefined);
  };

  const built = outcome && 'imageId' in outcome ? outcome : undefined;
  const failed = outcome && 'error' in outcome ? outcome.error : undefined;

  return (
    <View id="build" title="Build">
      <form
        className="form build-form"
        style={{ marginBottom: 16 }}
        onSubmit={submit}
        aria-label="Build options"
      >
        <div className="row">
          <label className="grow">
            <span className="label">Folder</span>
            <input
              ref={folderInput}
              name="folder"
              value={folder}
              placeholder="/path/to/project"
              onChange={(e) => set('folder', e.target.value)}
              disabled={building}
              required
            />
          </label>
          <button type="button" onClick={choose} disabled={building}>
            Choose…
          </button>
        </div>
        {pickerMissing && (
          <span className="hint muted small">
            No folder picker here: type or paste the folder&apos;s path (on the machine running
            Berth).
          </span>
        )}
        <div className="row">
          <label className="grow">
            <span className="label">Dockerfile (relative to the folder)</span>
            <input
              name="dockerfile"
              value={dockerfile}
              onChange={(e) => set('dockerfile', e.target.value)}
              disabled={building}
            />
          </label>
          <label className="grow">
            <span className="label">Target stage (optional)</span>
            <input
              name="target"
              value={target}
              onChange={(e) => set('target', e.target.value)}
              disabled={building}
            />
          </label>
        </div>
        <label>
          <span className="label">Tags (name:tag, comma separated)</span>
          <input
            name="tags"
            value={tags}
            placeholder="myapp:latest, myapp:1.0"
            onChange={(e) => set('tags', e.target.value)}
            disabled={building}
          />
        </label>
        <div className="row">
          <KeyValueField
            name="buildArgs"
            label="Build arguments"
            noun="build argument"
            value={buildArgs}
            onChange={(v) => set('buildArgs', v)}
            bad={args.bad}
            disabled={building}
          />
          <KeyValueField
            name="labels"
            label="Labels"
            noun="label"
            value={labels}
            onChange={(v) => set('labels', v)}
            bad={labelMap.bad}
            disabled={building}
          />
        </div>
        <div className="row">
          <label className="check">
            <input
              type="checkbox"
              name="noCache"
              checked={noCache}
              onChange={(e) => set('noCache', e.target.checked)}
              disabled={building}
            />
            No cache
          </label>
          <label className="check">
            <input
              type="checkbox"
              name="pull"
              checked={pull}
              onChange={(e) => set('pull', e.target.checked)}
              disabled={building}
            />
            Always pull the base images
          </label>
          <span className="grow" />
          {building && (
            <button type="button" onClick={cancel}>
              Cancel
            </button>
          )}
          <button
            type="submit"
            className="primary"
            disabled={
              building ||
              folder.trim() === '' ||
              args.bad !== undefined ||
              labelMap.bad !== undefined
            }
          >
            {building ? 'Building…' : 'Build'}
          </button>
        </div>
      </form>
      {buildId === undefined ? (
        <EmptyState title="Nothing built yet">
          <p>
            Choose a folder that holds a Dockerfile, give the image a tag, and press Build. The
            engine&apos;s log appears here as it builds; run the image when it is done.
          </p>
        </EmptyState>
      ) : (
        <>
          <ErrorBanner error={failed} />
          {built && (
            <div className="row build-done">
              <p className="ok grow" role="status">
                Built <code data-testid="built-image-id">{shortId(built.imageId)}</code>
                {built.tags.length > 0 && ` as ${built.tags.join(', ')}`}
              </p>
              <button
                type="button"
                className="primary"
                onClick={() => setRunning(built.tags[0] ?? built.imageId)}
              >
                Run
              </button>
            </div>
          )}
          <pre
            ref={pre}
            className="log-output"
            role="log"
            aria-label="Build log"
            aria-busy={building}
            tabIndex={0}
          >
            {log ? <AnsiText text={log} /> : building ? 'Sending the build context…' : ''}
          </pre>
        </>
      )}
      {running !== undefined && (
        <RunDialog
          image={running}
          onClose={() => setRunning(undefined)}
          onStarted={props.onStarted}
        />
      )}
    </View>
  );
}
