import { useEffect, useState, type FormEvent } from 'react';
import type { Settings } from '../../shared/contract.js';
import { View } from '../components/View.js';
import { ErrorBanner, Notice } from '../components/common.js';
import { errorText, useAction, useBerth, useEngineStatus } from '../state.js';

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

function NumberField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  min: number;
  max?: number;
  step?: number;
}) {
  return (
    <label>
      <span className="label">{props.label}</span>
      <input
        type="number"
        min={props.min}
        max={props.max}
        step={props.step}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}

export function SettingsView() {
  const berth = useBerth();
  const status = useEngineStatus();
  const [saved, setSaved] = useState<Settings>();
  const [loadError, setLoadError] = useState<string>();
  const [cpus, setCpus] = useState('');
  const [memory, setMemory] = useState('');
  const [disk, setDisk] = useState('');
  const [folders, setFolders] = useState('');
  const [registries, setRegistries] = useState('');
  const [startAtLogin, setStartAtLogin] = useState(false);
  const [notice, setNotice] = useState<string>();
  const action = useAction();

  const show = (s: Settings) => {
    setSaved(s);
    setCpus(String(s.cpus));
    setMemory(String(s.memoryMiB));
    setDisk(String(s.diskGiB));
    setFolders(s.sharedFolders.join('\n'));
    setRegistries(s.insecureRegistries.join('\n'));
    setStartAtLogin(s.startAtLogin);
  };
  useEffect(() => {
    berth.invoke('settings.get', {}).then(show, (e: unknown) => setLoadError(errorText(e)));
  }, [berth]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setNotice(undefined);
    void action.run(async () => {
      const next = await berth.invoke('settings.set', {
        cpus: Number(cpus),
        memoryMiB: Number(memory),
        diskGiB: Number(disk),
        sharedFolders: lines(folders),
        insecureRegistries: lines(registries),
        startAtLogin,
      });
      show(next);
      setNotice('Saved. CPU, memory, disk and shared folders apply the next time the VM starts.');
    });
  };

  return (
    <View id="settings" title="Settings">
      <ErrorBanner error={loadError} />
      {status?.mode === 'native' && (
        <p className="note">
          On this host the engine runs natively, without a VM: the resources below apply to the
          Berth VM on macOS and Windows.
        </p>
      )}
      {saved && (
        <form className="form settings" onSubmit={submit} aria-label="Settings">
          <fieldset>
            <legend>Resources of the VM</legend>
            <div className="grid3">
              <NumberField label="CPUs" min={1} max={64} value={cpus} onChange={setCpus} />
              <NumberField
                label="Memory (MiB)"
                min={512}
                step={256}
                value={memory}
                onChange={setMemory}
              />
              <NumberField label="Disk (GiB)" min={8} value={disk} onChange={setDisk} />
            </div>
            <label>
              <span className="label">Shared folders (one absolute path per line)</span>
              <textarea rows={3} value={folders} onChange={(e) => setFolders(e.target.value)} />
            </label>
          </fieldset>
          <fieldset>
            <legend>Engine</legend>
            <label>
              <span className="label">Insecure registries (host:port, one per line)</span>
              <textarea
                rows={2}
                value={registries}
                placeholder="registry.local:5000"
                onChange={(e) => setRegistries(e.target.value)}
              />
            </label>
          </fieldset>
          <fieldset>
            <legend>App</legend>
            <label className="check">
              <input
                type="checkbox"
                checked={startAtLogin}
                onChange={(e) => setStartAtLogin(e.target.checked)}
              />
              Start Berth when I log in
            </label>
          </fieldset>
          <ErrorBanner error={action.error} onDismiss={action.clear} />
          <Notice text={notice} />
          <div className="actions">
            <button type="button" onClick={() => show(saved)} disabled={action.busy}>
              Discard changes
            </button>
            <button type="submit" className="primary" disabled={action.busy}>
              Save
            </button>
          </div>
        </form>
      )}
    </View>
  );
}
