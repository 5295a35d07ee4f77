import { useState, type FormEvent } from 'react';
import {
  RESTART_POLICIES,
  VOLUME_SPEC,
  type PortMapping,
  type RunRequest,
} from '../../shared/contract.js';
import { dockerRunLine, splitCommand } from '../../shared/docker-run.js';
import { Dialog, ErrorBanner } from '../components/common.js';
import { useAction, useBerth } from '../state.js';

/** `8080:80, 53:53/udp, 9000` → port mappings; undefined when a part does not parse. */
export function parsePorts(text: string): PortMapping[] | undefined {
  const out: PortMapping[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(part);
    if (!m) return undefined;
    const hostPort = Number(m[1] ?? 0);
    const containerPort = Number(m[2]);
    if (hostPort > 65535 || containerPort < 1 || containerPort > 65535) return undefined;
    out.push({ hostPort, containerPort, protocol: m[3] === 'udp' ? 'udp' : 'tcp' });
  }
  return out;
}

export function RunDialog(props: {
  image?: string;
  onClose: () => void;
  onStarted: (id: string) => void;
}) {
  const berth = useBerth();
  const [image, setImage] = useState(props.image ?? '');
  const [name, setName] = useState('');
  const [ports, setPorts] = useState('');
  const [env, setEnv] = useState('');
  const [command, setCommand] = useState('');
  const [volumes, setVolumes] = useState('');
  const [restart, setRestart] = useState<(typeof RESTART_POLICIES)[number]>('no');
  const volumeList = volumes
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const badVolume = volumeList.find((v) => !VOLUME_SPEC.test(v));
  const action = useAction();

  const parsedPorts = parsePorts(ports);
  const request: RunRequest = {
    image: image.trim(),
    name: name.trim() || undefined,
    ports: parsedPorts ?? [],
    env: env
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
    command: splitCommand(command),
    volumes: volumeList,
    restart,
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action
      .run(async () => {
        const r = await berth.invoke('containers.run', request);
        props.onStarted(r.id);
      })
      .then((ok) => ok && props.onClose());
  };

  return (
    <Dialog title="Run a container" onClose={props.onClose} wide>
      <form onSubmit={submit} className="form">
        <label>
          <span className="label">Image</span>
          <input
            name="image"
            value={image}
            onChange={(e) => setImage(e.target.value)}
            required
            data-autofocus={props.image ? undefined : true}
          />
        </label>
        <label>
          <span className="label">Name (optional)</span>
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            data-autofocus={props.image ? true : undefined}
          />
        </label>
        <label>
          <span className="label">Ports (host:container, comma separated)</span>
          <input
            name="ports"
            value={ports}
            placeholder="8080:80"
            onChange={(e) => setPorts(e.target.value)}
            aria-invalid={parsedPorts === undefined}
          />
          {parsedPorts === undefined && (
            <span className="hint bad">Write ports as 8080:80, 53:53/udp or 9000.</span>
          )}
        </label>
        <label>
          <span className="label">Environment (KEY=value, one per line)</span>
          <textarea name="env" rows={3} value={env} onChange={(e) => setEnv(e.target.value)} />
        </label>
        <label>
          <span className="label">Volumes (name:/path or /host/path:/path[:ro], one per line)</span>
          <textarea
            name="volumes"
            rows={2}
            value={volumes}
            placeholder="data:/var/lib/data"
            onChange={(e) => setVolumes(e.target.value)}
            aria-invalid={badVolume !== undefined}
          />
          {badVolume !== undefined && (
            <span className="hint bad">
              {badVolume}: write a volume as name:/path or /host/path:/path, optionally :ro.
            </span>
          )}
        </label>
        <label>
          <span className="label">Restart policy</span>
          <select
            name="restart"
            value={restart}
            onChange={(e) => setRestart(e.target.value as (typeof RESTART_POLICIES)[number])}
          >
            {RESTART_POLICIES.map((p) => (
              <option key={p} value={p}>
                {p === 'no' ? 'no (default)' : p}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="label">Command (optional, replaces the image&apos;s)</span>
          <input name="command" value={command} onChange={(e) => setCommand(e.target.value)} />
        </label>
        <div>
          <span className="label">Equivalent command</span>
          <pre className="cmdline" data-testid="docker-run-line">
            {dockerRunLine(request)}
          </pre>
        </div>
        <ErrorBanner error={action.error} onDismiss={action.clear} />
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="primary"
            disabled={
              action.busy || !request.image || parsedPorts === undefined || badVolume !== undefined
            }
          >
            {action.busy ? 'Starting…' : 'Run'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
