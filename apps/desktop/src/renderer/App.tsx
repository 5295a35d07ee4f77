import { useEffect, useState } from 'react';
import type { Connection } from './bridge.js';
import { StatusBar } from './components/StatusBar.js';
import { BerthProvider } from './state.js';
import { BuildView } from './views/Build.js';
import { ContainerDetailView } from './views/ContainerDetail.js';
import { ContainersView } from './views/Containers.js';
import { ImagesView } from './views/Images.js';
import { NetworksView } from './views/Networks.js';
import { SettingsView } from './views/Settings.js';
import { TroubleshootView } from './views/Troubleshoot.js';
import { VolumesView } from './views/Volumes.js';

const SECTIONS = {
  containers: 'Containers',
  images: 'Images',
  build: 'Build',
  volumes: 'Volumes',
  networks: 'Networks',
  settings: 'Settings',
  troubleshoot: 'Troubleshoot',
} as const;
type Section = keyof typeof SECTIONS;

type Route = { view: Section } | { view: 'container'; id: string };

function parseRoute(hash: string): Route {
  const [, first, second] = hash.replace(/^#/, '').split('/');
  if (first === 'containers' && second) return { view: 'container', id: second };
  if (first && Object.hasOwn(SECTIONS, first)) return { view: first as Section };
  return { view: 'containers' };
}

function useRoute(): [Route, (hash: string) => void] {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return [route, (hash) => (location.hash = hash)];
}

export function App(props: { connection: Connection }) {
  const [route, go] = useRoute();
  const [connected, setConnected] = useState(true);
  useEffect(() => props.connection.onConnection(setConnected), [props.connection]);

  return (
    <BerthProvider connection={props.connection}>
      <Shell route={route} go={go} connected={connected} />
    </BerthProvider>
  );
}

function Shell({
  route,
  go,
  connected,
}: {
  route: Route;
  go: (hash: string) => void;
  connected: boolean;
}) {
  const section: Section = route.view === 'container' ? 'containers' : route.view;
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⚓
          </span>
          Berth
        </div>
        {(Object.keys(SECTIONS) as Section[]).map((key) => (
          <a
            key={key}
            href={`#/${key}`}
            className={key === 'settings' ? 'nav-gap' : undefined}
            aria-current={section === key ? 'page' : undefined}
          >
            {SECTIONS[key]}
          </a>
        ))}
      </nav>
      <main className="main">
        {route.view === 'containers' && (
          <ContainersView onOpen={(id) => go(`#/containers/${id}`)} />
        )}
        {route.view === 'container' && (
          <ContainerDetailView id={route.id} onBack={() => go('#/containers')} />
        )}
        {route.view === 'images' && <ImagesView onStarted={(id) => go(`#/containers/${id}`)} />}
        {route.view === 'build' && <BuildView onStarted={(id) => go(`#/containers/${id}`)} />}
        {route.view === 'volumes' && <VolumesView />}
        {route.view === 'networks' && <NetworksView />}
        {route.view === 'settings' && <SettingsView />}
        {route.view === 'troubleshoot' && <TroubleshootView />}
      </main>
      <StatusBar connected={connected} />
    </div>
  );
}
