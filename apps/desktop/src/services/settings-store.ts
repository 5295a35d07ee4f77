/**
 * The app's settings file (JSON, validated when read back: another process or a person may
 * have written it). A missing or broken file means the defaults.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, homedir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { settingsSchema, type Settings } from '../shared/contract.js';

/** `$BERTH_HOME/desktop-settings.json`, as packages/machine keeps `~/.berth`. */
export function defaultSettingsFile(): string {
  return join(process.env['BERTH_HOME'] ?? join(homedir(), '.berth'), 'desktop-settings.json');
}

/** Half the host's CPUs and a quarter of its memory (at least 2 GiB), as Docker Desktop does. */
export function defaultSettings(): Settings {
  const memMiB = Math.floor(totalmem() / 1024 / 1024);
  return {
    cpus: Math.max(1, Math.floor(cpus().length / 2)),
    memoryMiB: Math.min(Math.max(2048, Math.floor(memMiB / 4 / 256) * 256), 1024 * 1024),
    diskGiB: 64,
    sharedFolders: [homedir()],
    startAtLogin: false,
    insecureRegistries: [],
  };
}

export class SettingsStore {
  constructor(
    readonly file: string = defaultSettingsFile(),
    /** Called after each change (Electron applies start-at-login). */
    private readonly onChange?: (s: Settings) => void,
  ) {}

  async get(): Promise<Settings> {
    try {
      const raw: unknown = JSON.parse(await readFile(this.file, 'utf8'));
      const parsed = settingsSchema.safeParse(raw);
      if (parsed.success) return parsed.data;
    } catch {
      // missing or not JSON: the defaults
    }
    return defaultSettings();
  }

  async set(s: Settings): Promise<Settings> {
    const valid = settingsSchema.parse(s);
    await mkdir(dirname(this.file), { recursive: true });
    // Write then rename: a crash never leaves half a file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
    this.onChange?.(valid);
    return valid;
  }

  reset(): Promise<Settings> {
    return this.set(defaultSettings());
  }
}
