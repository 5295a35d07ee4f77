import { useEffect, useState } from 'react';
import type { Connection } from './bridge.js';
import { StatusBar } from './components/StatusBar.js';
import { BerthProvider } from './state.js';
import { ContainerDetailView } from './views/ContainerDetail.js';
import { ContainersView } from './views/Containers.js';
import { ImagesView } from './views/Images.js';

type Route = { view: 'containers' } | { view: 'container'; id: string } | { view: 'images' };

function parseRoute(hash: string): Route {
  const [, first, second] = hash.replace(/^#/, '').split('/');
  if (first === 'images') return { view: 'images' };
  if (first === 'containers' && second) return { view: 'container', id: second };
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
  const section = route.view === 'images' ? 'images' : 'containers';
  return (
    <div className="app">
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ⚓
          </span>
          Berth
        </div>
        <a href="#/containers" aria-current={section === 'containers' ? 'page' : undefined}>
          Containers
        </a>
        <a href="#/images" aria-current={section === 'images' ? 'page' : undefined}>
          Images
        </a>
      </nav>
      <main className="main">
        {route.view === 'containers' && (
          <ContainersView onOpen={(id) => go(`#/containers/${id}`)} />
        )}
        {route.view === 'container' && (
          <ContainerDetailView id={route.id} onBack={() => go('#/containers')} />
        )}
        {route.view === 'images' && <ImagesView onStarted={(id) => go(`#/containers/${id}`)} />}
      </main>
      <StatusBar connected={connected} />
    </div>
  );
}
