import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileParseError, parseDockerfile, parseDuration, splitWords } from './dockerfile.js';

const one = (text: string) => {
  const df = parseDockerfile(text);
  assert.equal(df.instructions.length, 1, JSON.stringify(df.instructions));
  return df.instructions[0] as NonNullable<(typeof df.instructions)[0]>;
};

describe('parseDockerfile', () => {
  const cases: Array<{
    name: string;
    text: string;
    keyword: string;
    args: string[];
    json?: boolean;
    flags?: Record<string, string>;
    line?: number;
  }> = [
    { name: 'shell-form RUN', text: 'RUN echo hi', keyword: 'run', args: ['echo hi'], json: false },
    {
      name: 'exec-form RUN',
      text: 'RUN ["echo", "hi"]',
      keyword: 'run',
      args: ['echo', 'hi'],
      json: true,
    },
    {
      name: 'bad JSON is shell form',
      text: 'CMD [echo, hi]',
      keyword: 'cmd',
      args: ['[echo, hi]'],
      json: false,
    },
    {
      name: 'keywords are case-insensitive',
      text: 'from busybox',
      keyword: 'from',
      args: ['busybox'],
    },
    {
      name: 'FROM AS with --platform',
      text: 'FROM --platform=linux/amd64 busybox AS build',
      keyword: 'from',
      args: ['busybox', 'AS', 'build'],
      flags: { platform: 'linux/amd64' },
    },
    {
      name: 'continuation lines join',
      text: 'RUN echo a \\\n  && echo b',
      keyword: 'run',
      args: ['echo a   && echo b'],
    },
    {
      name: 'comments inside a continuation vanish',
      text: 'RUN echo a \\\n# a comment\n  && echo b',
      keyword: 'run',
      args: ['echo a   && echo b'],
    },
    {
      name: 'escape directive',
      text: '# escape=`\nRUN echo a `\n b',
      keyword: 'run',
      args: ['echo a  b'],
      line: 2,
    },
    {
      name: 'ENV key=value pairs keep quotes for expansion',
      text: 'ENV A=1 B="two words" C=x\\ y',
      keyword: 'env',
      args: ['A', '1', 'B', '"two words"', 'C', 'x\\ y'],
    },
    {
      name: 'legacy ENV form',
      text: 'ENV GREETING hello big world',
      keyword: 'env',
      args: ['GREETING', 'hello big world'],
    },
    {
      name: 'COPY flags and words',
      text: 'COPY --from=build --chown=1:2 a b /dst/',
      keyword: 'copy',
      args: ['a', 'b', '/dst/'],
      flags: { from: 'build', chown: '1:2' },
    },
    {
      name: 'COPY JSON form',
      text: 'COPY ["a b", "/c"]',
      keyword: 'copy',
      args: ['a b', '/c'],
      json: true,
    },
    { name: 'ARG with and without default', text: 'ARG A B=2', keyword: 'arg', args: ['A', 'B=2'] },
    { name: 'EXPOSE', text: 'EXPOSE 80 443/udp', keyword: 'expose', args: ['80', '443/udp'] },
    {
      name: 'SHELL',
      text: 'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]',
      keyword: 'shell',
      args: ['/bin/ash', '-eo', 'pipefail', '-c'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ins = one(c.text);
      assert.equal(ins.keyword, c.keyword);
      assert.deepEqual(ins.args, c.args);
      if (c.json !== undefined) assert.equal(ins.json, c.json);
      if (c.flags) assert.deepEqual(ins.flags, c.flags);
      if (c.line !== undefined) assert.equal(ins.line, c.line);
    });
  }

  it('records directives and line numbers', () => {
    const df = parseDockerfile(
      '# syntax=docker/dockerfile:1\n# a comment\n\nFROM busybox\n\nRUN true\n',
    );
    assert.equal(df.syntax, 'docker/dockerfile:1');
    assert.deepEqual(
      df.instructions.map((i) => [i.keyword, i.line]),
      [
        ['from', 4],
        ['run', 6],
      ],
    );
  });

  it('parses HEALTHCHECK and ONBUILD', () => {
    const hc = one('HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/');
    assert.deepEqual(hc.healthcheck, {
      kind: 'cmd',
      args: ['curl -f http://localhost/'],
      json: false,
    });
    assert.deepEqual(hc.flags, { interval: '5s', retries: '3' });
    assert.deepEqual(one('HEALTHCHECK NONE').healthcheck, { kind: 'none' });
    const ob = one('ONBUILD COPY . /src');
    assert.equal(ob.trigger?.keyword, 'copy');
    assert.deepEqual(ob.trigger?.args, ['.', '/src']);
  });

  const errors: Array<[string, string, RegExp]> = [
    [
      'unknown instruction',
      'FROM busybox\n\nFORM x',
      /^dockerfile parse error line 3: unknown instruction: FORM$/,
    ],
    ['FROM arity', 'FROM a b', /line 1: FROM requires either one or three arguments/],
    ['ENV without value', 'ENV A', /line 1: ENV must have two arguments/],
    ['ENV blank name', 'ENV =x', /ENV names can not be blank/],
    ['ENV missing =', 'ENV A=1 B', /can't find = in "B"/],
    ['COPY arity', 'FROM x\nCOPY a', /line 2: COPY requires at least two arguments/],
    ['unknown flag', 'COPY --frm=x a b', /unknown flag: frm/],
    ['SHELL not JSON', 'SHELL /bin/sh -c', /SHELL requires the arguments to be in JSON form/],
    ['ONBUILD ONBUILD', 'ONBUILD ONBUILD RUN x', /Chaining ONBUILD/],
    ['ONBUILD FROM', 'ONBUILD FROM x', /FROM isn't allowed as an ONBUILD trigger/],
    ['bad escape', '# escape=x\nFROM a', /invalid escape token/],
  ];
  for (const [name, text, re] of errors) {
    it(`refuses: ${name}`, () => {
      assert.throws(
        () => parseDockerfile(text),
        (err: unknown) => {
          assert.ok(err instanceof DockerfileParseError);
          assert.match(err.message, re);
          return true;
        },
      );
    });
  }
});

describe('splitWords', () => {
  it('keeps quotes and escapes, splits on unquoted blanks', () => {
    assert.deepEqual(splitWords(`a="b c" d='e f' g\\ h`, '\\'), [`a="b c"`, `d='e f'`, 'g\\ h']);
    assert.deepEqual(splitWords('  ', '\\'), []);
    assert.deepEqual(splitWords(`x=""`, '\\'), [`x=""`]);
  });
});

describe('parseDuration', () => {
  it('reads Go durations in nanoseconds', () => {
    assert.equal(parseDuration('5s'), 5e9);
    assert.equal(parseDuration('1m30s'), 90e9);
    assert.equal(parseDuration('250ms'), 250e6);
    assert.throws(() => parseDuration('5'), /invalid duration/);
  });
});
