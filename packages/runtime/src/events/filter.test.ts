import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryEventBus, type EngineEvent } from './bus.js';
import { eventMatches } from './filter.js';

function event(
  type: EngineEvent['Type'],
  action: string,
  id: string,
  attributes: Record<string, string> = {},
): EngineEvent {
  const bus = new MemoryEventBus();
  bus.emit(type, action, id, attributes);
  const [ev] = bus.history(0n);
  assert.ok(ev);
  return ev;
}

const f = (o: Record<string, string[]>) => new Map(Object.entries(o));

describe('eventMatches (moby event filters)', () => {
  const tag = event('image', 'tag', 'sha256:0123abcd', { name: 'busybox:v2' });
  const start = event('container', 'start', 'c0ffee1234', {
    name: 'web',
    image: 'nginx:1.25',
    tier: 'front',
  });
  const exec = event('container', 'exec_start: sh -c true', 'c0ffee1234', { name: 'web' });

  it('matches everything with no filters', () => {
    assert.ok(eventMatches(f({}), tag) && eventMatches(f({}), start));
  });

  it('matches type and event exactly, several values being alternatives', () => {
    assert.ok(eventMatches(f({ type: ['image', 'volume'] }), tag));
    assert.ok(!eventMatches(f({ type: ['container'] }), tag));
    assert.ok(eventMatches(f({ event: ['tag', 'untag'] }), tag));
    assert.ok(!eventMatches(f({ event: ['ta'] }), tag));
  });

  it('matches exec_start by prefix, as moby does', () => {
    assert.ok(eventMatches(f({ event: ['exec_start'] }), exec));
  });

  it('matches containers by ID prefix or name, and excludes other types', () => {
    assert.ok(eventMatches(f({ container: ['c0ff'] }), start));
    assert.ok(eventMatches(f({ container: ['web'] }), start));
    assert.ok(!eventMatches(f({ container: ['db'] }), start));
    assert.ok(!eventMatches(f({ container: ['web'] }), tag));
  });

  it('matches images by ID, name, or name without tag; containers by their image', () => {
    assert.ok(eventMatches(f({ image: ['sha256:0123abcd'] }), tag));
    assert.ok(eventMatches(f({ image: ['busybox'] }), tag));
    assert.ok(eventMatches(f({ image: ['busybox:v2'] }), tag));
    assert.ok(eventMatches(f({ image: ['nginx'] }), start));
    assert.ok(!eventMatches(f({ image: ['nginx'] }), tag));
  });

  it('matches labels by key or key=value, all of them', () => {
    assert.ok(eventMatches(f({ label: ['tier'] }), start));
    assert.ok(eventMatches(f({ label: ['tier=front', 'image'] }), start));
    assert.ok(!eventMatches(f({ label: ['tier=back'] }), start));
  });

  it('combines keys with AND', () => {
    assert.ok(eventMatches(f({ type: ['container'], event: ['start'], label: ['tier'] }), start));
    assert.ok(!eventMatches(f({ type: ['container'], event: ['stop'] }), start));
  });
});

describe('MemoryEventBus', () => {
  it('keeps a bounded ring with strictly increasing times and fills legacy fields', () => {
    const bus = new MemoryEventBus(3);
    for (let i = 0; i < 5; i++) bus.emit('image', 'pull', `img${i}`);
    const kept = bus.history(0n);
    assert.deepEqual(
      kept.map((e) => e.Actor.ID),
      ['img2', 'img3', 'img4'],
    );
    for (let i = 1; i < kept.length; i++) {
      assert.ok((kept[i]?.timeNano ?? 0) > (kept[i - 1]?.timeNano ?? 0));
    }
    assert.equal(kept[0]?.status, 'pull');
    assert.equal(kept[0]?.id, 'img2');
    const [middle] = kept.slice(1);
    assert.ok(middle);
    // history bounds are inclusive and exact on the JSON timeNano.
    assert.deepEqual(
      bus.history(BigInt(middle.timeNano), BigInt(middle.timeNano)).map((e) => e.Actor.ID),
      ['img3'],
    );
  });

  it('isolates a throwing listener and unsubscribes', () => {
    const errors: unknown[] = [];
    const bus = new MemoryEventBus(10, (e) => errors.push(e));
    const seen: string[] = [];
    bus.subscribe(() => {
      throw new Error('boom');
    });
    const off = bus.subscribe((e) => seen.push(e.Action));
    bus.emit('volume', 'create', 'v');
    off();
    bus.emit('volume', 'destroy', 'v');
    assert.deepEqual(seen, ['create']);
    assert.equal(errors.length, 2);
    assert.equal(bus.listenerCount, 1);
  });
});
