/**
 * Build: a folder (chosen with the native picker in Electron, typed or pasted in the dashboard,
 * which runs on the same machine) is built by the engine; its log streams in as it comes, and
 * the image it makes can be run straight away.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { BuildOutput, BuildRequest } from '../../shared/contract.js';
import { EmptyState, ErrorBanner } from '../components/common.js';
import { View } from '../components/View.js';
import { newId, shortId } from '../format.js';
import { errorText, useBerth } from '../state.js';
import { AnsiText } from './BuildLog.js';
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

export function BuildView(props: { onStarted: (id: string) => void }) {
  const berth = useBerth();
  const [folder, setFolder] = useState('');
  const [dockerfile, setDockerfile] = useState('Dockerfile');
  const [tags, setTags] = useState('');
  const [buildArgs, setBuildArgs] = useState('');
  const [labels, setLabels] = useState('');
  const [target, setTarget] = useState('');
  const [noCache, setNoCache] = useState(false);
  const [pull, setPull] = useState(false);
  const [pickerMissing, setPickerMissing] = useState(false);
  const [buildId, setBuildId] = useState<string>();
  const [log, setLog] = useState('');
  const [outcome, setOutcome] = useState<Outcome>();
  const [running, setRunning] = useState<string>();
  const folderInput = useRef<HTMLInputElement>(null);
  const pre = useRef<HTMLPreElement>(null);

  const args = parseKeyValues(buildArgs);
  const labelMap = parseKeyValues(labels);
  const building = buildId !== undefined && outcome === undefined;

  // Subscribed before any build starts, so the first lines cannot arrive unheard.
  const current = useRef<string>(undefined);
  useEffect(
    () =>
      berth.on('build.output', (o: BuildOutput) => {
        if (o.buildId !== current.current || o.stream === undefined) return;
        const text = o.stream;
        setLog((l) => (l + text).slice(-MAX_LOG_CHARS));
      }),
    [berth],
  );

  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log, outcome]);

  const choose = () => {
    berth.invoke('dialog.pickFolder', {}).then(
      (path) => {
        if (path) setFolder(path);
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
    const id = newId('build');
    const request: BuildRequest = {
      buildId: id,
      context: folder.trim(),
      dockerfile: dockerfile.trim() || 'Dockerfile',
      tags: parseTags(tags),
      buildArgs: args.map,
      labels: labelMap.map,
      target: target.trim() || undefined,
      noCache,
      pull,
    };
    current.current = id;
    setBuildId(id);
    setLog('');
    setOutcome(undefined);
    berth.invoke('build.run', request).then(
      (r) => setOutcome(r),
      (err: unknown) => setOutcome({ error: errorText(err) }),
    );
  };

  const cancel = () => {
    if (buildId) void berth.invoke('stream.cancel', { streamId: buildId }).catch(() => undefined);
  };

  const built = outcome && 'imageId' in outcome ? outcome : undefined;
  const failed = outcome && 'error' in outcome ? outcome.error : undefined;

  return (
    <View id="build" title="Build">
      <form className="form build-form" onSubmit={submit} aria-label="Build options">
        <div className="row">
          <label className="grow">
            <span className="label">Folder</span>
            <input
              ref={folderInput}
              name="folder"
              value={folder}
              placeholder="/path/to/project"
              onChange={(e) => setFolder(e.target.value)}
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
              onChange={(e) => setDockerfile(e.target.value)}
              disabled={building}
            />
          </label>
          <label className="grow">
            <span className="label">Target stage (optional)</span>
            <input
              name="target"
              value={target}
              onChange={(e) => setTarget(e.target.value)}
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
            onChange={(e) => setTags(e.target.value)}
            disabled={building}
          />
        </label>
        <div className="row">
          <KeyValueField
            name="buildArgs"
            label="Build arguments"
            noun="build argument"
            value={buildArgs}
            onChange={setBuildArgs}
            bad={args.bad}
            disabled={building}
          />
          <KeyValueField
            name="labels"
            label="Labels"
            noun="label"
            value={labels}
            onChange={setLabels}
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
              onChange={(e) => setNoCache(e.target.checked)}
              disabled={building}
            />
            No cache
          </label>
          <label className="check">
            <input
              type="checkbox"
              name="pull"
              checked={pull}
              onChange={(e) => setPull(e.target.checked)}
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
