/**
 * Container IDs and names, with moby's rules: an ID is 64 random hex digits (never all
 * numeric in its short form, so a short ID is never mistaken for a number); a name is
 * `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, stored with a leading slash; without one, a name like
 * `eager_hopper` is generated (moby's pkg/namesgenerator, a subset of its lists).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { InvalidParameterError } from '../api/errors.js';

export const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A new container ID; its 12-character short form is never purely numeric. */
export function newContainerId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (!/^\d{12}/.test(id)) return id;
  }
}

/** `/name` for a user-given name; 400 with moby's message for a bad one. */
export function normalizeName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new InvalidParameterError(
      `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  return name.startsWith('/') ? name : `/${name}`;
}

const LEFT = [
  'admiring', 'adoring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'beautiful',
  'blissful', 'bold', 'boring', 'brave', 'busy', 'charming', 'clever', 'compassionate',
  'competent', 'condescending', 'confident', 'cool', 'cranky', 'crazy', 'dazzling', 'determined',
  'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'eloquent',
  'epic', 'exciting', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty',
  'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'great', 'happy', 'hardcore', 'heuristic',
  'hopeful', 'hungry', 'infallible', 'inspiring', 'intelligent', 'interesting', 'jolly',
  'jovial', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing',
  'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic', 'objective', 'optimistic',
  'peaceful', 'pedantic', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical',
  'recursing', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly',
  'sleepy', 'stoic', 'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty',
  'trusting', 'unruffled', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly',
  'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
]; // prettier-ignore

const RIGHT = [
  'agnesi', 'albattani', 'allen', 'almeida', 'archimedes', 'ardinghelli', 'aryabhata',
  'austin', 'babbage', 'banach', 'bardeen', 'bartik', 'bassi', 'bell', 'benz', 'bhabha',
  'bhaskara', 'blackwell', 'bohr', 'booth', 'borg', 'bose', 'boyd', 'brahmagupta', 'brattain',
  'brown', 'carson', 'cerf', 'chandrasekhar', 'chatelet', 'chatterjee', 'cohen', 'colden',
  'cori', 'cray', 'curie', 'darwin', 'davinci', 'diffie', 'dijkstra', 'dirac', 'driscoll',
  'dubinsky', 'easley', 'edison', 'einstein', 'elion', 'engelbart', 'euclid', 'euler',
  'faraday', 'feistel', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo', 'gates',
  'goldberg', 'goldstine', 'goldwasser', 'goodall', 'hamilton', 'hawking', 'heisenberg',
  'hellman', 'hermann', 'hodgkin', 'hofstadter', 'hopper', 'hugle', 'hypatia', 'jackson',
  'jang', 'jennings', 'jepsen', 'johnson', 'joliot', 'jones', 'kalam', 'kapitsa', 'keller',
  'kepler', 'khorana', 'kilby', 'kirch', 'knuth', 'kowalevski', 'lalande', 'lamarr',
  'lamport', 'leakey', 'leavitt', 'lehmann', 'lewin', 'lichterman', 'liskov', 'lovelace',
  'lumiere', 'mahavira', 'margulis', 'matsumoto', 'maxwell', 'mayer', 'mccarthy', 'mcclintock',
  'meitner', 'mendel', 'mendeleev', 'merkle', 'mestorf', 'mirzakhani', 'montalcini', 'moore',
  'morse', 'moser', 'napier', 'nash', 'neumann', 'newton', 'nightingale', 'nobel', 'noether',
  'northcutt', 'noyce', 'panini', 'pare', 'pascal', 'pasteur', 'payne', 'perlman', 'pike',
  'poincare', 'poitras', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'robinson',
  'roentgen', 'rosalind', 'rubin', 'saha', 'sammet', 'shamir', 'shannon', 'shaw', 'shirley',
  'shockley', 'sinoussi', 'snyder', 'spence', 'stallman', 'stonebraker', 'swanson',
  'swartz', 'swirles', 'tesla', 'tharp', 'thompson', 'torvalds', 'turing', 'varahamihira',
  'villani', 'visvesvaraya', 'volhard', 'wescoff', 'wiles', 'williams', 'wilson', 'wing',
  'wozniak', 'wright', 'wu', 'yalow', 'yonath', 'zhukovsky',
]; // prettier-ignore

const pick = (list: readonly string[]): string => list[randomInt(list.length)] ?? 'x';

/**
 * A generated name (`/adjective_surname`); after `retry` collisions a digit is appended, as
 * moby does. "boring_wozniak" is never generated (Steve Wozniak is not boring).
 */
export function generateName(retry = 0): string {
  for (;;) {
    const name = `${pick(LEFT)}_${pick(RIGHT)}`;
    if (name === 'boring_wozniak') continue;
    return `/${name}${retry > 0 ? randomInt(10) : ''}`;
  }
}
