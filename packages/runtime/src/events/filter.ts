/**
 * Docker's event filters (moby daemon/events/filter.go): which events a `docker events
 * --filter …` subscriber sees. A key with no values matches everything; several values of one
 * key are alternatives; different keys must all match.
 */
import type { EngineEvent } from './bus.js';

export const EVENT_FILTER_KEYS = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
] as const;

type Filters = ReadonlyMap<string, readonly string[]>;

function exact(filters: Filters, key: string, value: string | undefined): boolean {
  const wanted = filters.get(key);
  if (!wanted || wanted.length === 0) return true;
  return value !== undefined && wanted.includes(value);
}

/** Exact, or the value starts with one of the wanted strings (ID prefixes). */
function fuzzy(filters: Filters, key: string, value: string | undefined): boolean {
  const wanted = filters.get(key);
  if (!wanted || wanted.length === 0) return true;
  return value !== undefined && wanted.some((w) => value.startsWith(w));
}

/** The object's ID or its `name` attribute matches the filter named after the object type. */
function matchName(filters: Filters, key: string, ev: EngineEvent): boolean {
  return fuzzy(filters, key, ev.Actor.ID) || fuzzy(filters, key, ev.Actor.Attributes.name);
}

function stripTag(ref: string): string {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(0, colon) : ref;
}

function matchImage(filters: Filters, ev: EngineEvent): boolean {
  const id = ev.Actor.ID;
  const name = ev.Actor.Attributes[ev.Type === 'image' ? 'name' : 'image'] ?? '';
  return [id, name, stripTag(id), stripTag(name)].some((v) => exact(filters, 'image', v));
}

/** `label=key` or `label=key=value` against the actor's attributes; all must match. */
function matchLabels(filters: Filters, ev: EngineEvent): boolean {
  const wanted = filters.get('label') ?? [];
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return w in ev.Actor.Attributes;
    return ev.Actor.Attributes[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

function matchAction(filters: Filters, ev: EngineEvent): boolean {
  // moby: these actions carry a suffix ("exec_start: sh -c …"), so they match by prefix.
  const wanted = filters.get('event') ?? [];
  if (wanted.some((w) => ['health_status', 'exec_create', 'exec_start'].includes(w))) {
    return fuzzy(filters, 'event', ev.Action);
  }
  return exact(filters, 'event', ev.Action);
}

export function eventMatches(filters: Filters, ev: EngineEvent): boolean {
  return (
    matchAction(filters, ev) &&
    exact(filters, 'type', ev.Type) &&
    exact(filters, 'scope', ev.scope) &&
    matchName(filters, 'daemon', ev) &&
    matchName(filters, 'container', ev) &&
    matchName(filters, 'plugin', ev) &&
    matchName(filters, 'volume', ev) &&
    matchName(filters, 'network', ev) &&
    matchImage(filters, ev) &&
    matchName(filters, 'node', ev) &&
    matchName(filters, 'service', ev) &&
    matchName(filters, 'secret', ev) &&
    matchName(filters, 'config', ev) &&
    matchLabels(filters, ev)
  );
}
