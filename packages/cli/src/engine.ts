/** The engine address the CLI talks to, and the check that it answers. */
import { EngineClient } from '@berth/engine-client';
import { berthPaths, dockerHostFor, engineClientHost } from '@berth/machine';

/** DOCKER_HOST of Berth's engine socket. */
export function dockerHost(env: NodeJS.ProcessEnv): string {
  return dockerHostFor(berthPaths(env.BERTH_HOME).dockerSocket);
}

export function notRunningMessage(host: string): string {
  return `Cannot connect to the Berth engine at ${host}. Is the engine running? Try: berth machine start\n`;
}

export async function engineAnswers(env: NodeJS.ProcessEnv, timeoutMs = 3000): Promise<boolean> {
  return new EngineClient({ host: engineClientHost(berthPaths(env.BERTH_HOME).dockerSocket) })
    .raw({ method: 'GET', path: '/_ping', timeoutMs })
    .then(
      (res) => {
        res.resume();
        return true;
      },
      () => false,
    );
}
