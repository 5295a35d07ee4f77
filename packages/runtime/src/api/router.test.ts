import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router } from './router.js';
import { compareApiVersions } from './server.js';

describe('router', () => {
  const noop = () => undefined;
  const router = new Router()
    .get('/images/{name:.*}/json', noop)
    .delete('/images/{name:.*}', noop)
    .get('/containers/{id}/json', noop);

  it('matches greedy image names with registry ports and slashes', () => {
    const m = router.match('GET', '/images/localhost:5000/a/b:tag/json');
    assert.equal(m.kind, 'found');
    assert.deepEqual(m.kind === 'found' && m.params, { name: 'localhost:5000/a/b:tag' });
  });

  it('keeps single-segment parameters to one segment', () => {
    assert.equal(router.match('GET', '/containers/a/b/json').kind, 'not-found');
    assert.equal(router.match('GET', '/containers/abc/json').kind, 'found');
  });

  it('tells a wrong method from an unknown path', () => {
    assert.equal(router.match('POST', '/containers/abc/json').kind, 'method-not-allowed');
    assert.equal(router.match('GET', '/nope').kind, 'not-found');
  });

  it('decodes percent-encoded parameters', () => {
    const m = router.match('DELETE', '/images/sha256%3Aabc');
    assert.deepEqual(m.kind === 'found' && m.params, { name: 'sha256:abc' });
  });

  it('compares API versions numerically', () => {
    assert.ok(compareApiVersions('1.9', '1.41') < 0);
    assert.ok(compareApiVersions('1.56', '1.41') > 0);
    assert.equal(compareApiVersions('1.41', '1.41'), 0);
  });
});
