/**
 * Docker's `User` (`name|uid[:group|gid]`) resolved against the container's own /etc/passwd
 * and /etc/group, with the rules and error texts of runc's libcontainer/user (which moby
 * uses): a numeric id need not exist in the files, a name must; the primary gid comes from
 * passwd unless a group is given; supplementary gids come from group membership only when no
 * group is given.
 */
import { SystemError } from '../api/errors.js';
import { readFileInRoot } from './rootfs-path.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** Home directory from passwd, when the user has an entry. */
  home?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

function lines(buf: Buffer | undefined): string[][] {
  if (!buf) return [];
  return buf
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function parsePasswd(buf: Buffer | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const [name = '', , uid = '', gid = '', , home = ''] of lines(buf)) {
    const u = parseId(uid);
    const g = parseId(gid);
    if (u !== undefined && g !== undefined) out.push({ name, uid: u, gid: g, home });
  }
  return out;
}

function parseGroup(buf: Buffer | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const [name = '', , gid = '', members = ''] of lines(buf)) {
    const g = parseId(gid);
    if (g !== undefined) out.push({ name, gid: g, members: members.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Resolves `spec` (Docker's Config.User; empty means root) and `groupAdd` (HostConfig.GroupAdd:
 * names or gids) inside `rootfs`. Throws SystemError with moby's message when a name is unknown
 * — moby reports spec errors at start as system errors.
 */
export async function resolveUser(
  rootfs: string,
  spec: string | undefined,
  groupAdd: readonly string[] = [],
): Promise<ResolvedUser> {
  const [userArg = '', groupArg = ''] = (spec ?? '').split(':', 2);
  const passwd = parsePasswd(await readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(await readFileInRoot(rootfs, '/etc/group'));

  const user: ResolvedUser = { uid: 0, gid: 0, additionalGids: [] };
  const uidArg = parseId(userArg);
  const match =
    userArg === ''
      ? passwd.find((p) => p.uid === 0)
      : uidArg !== undefined
        ? passwd.find((p) => p.uid === uidArg)
        : passwd.find((p) => p.name === userArg);
  if (match) {
    user.uid = match.uid;
    user.gid = match.gid;
    user.home = match.home;
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      throw new SystemError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    user.uid = uidArg;
  }

  if (groupArg !== '') {
    const gidArg = parseId(groupArg);
    const g =
      gidArg !== undefined
        ? groups.find((e) => e.gid === gidArg)
        : groups.find((e) => e.name === groupArg);
    if (g) user.gid = g.gid;
    else if (gidArg !== undefined) user.gid = gidArg;
    else
      throw new SystemError(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (match) {
    user.additionalGids = groups.filter((g) => g.members.includes(match.name)).map((g) => g.gid);
  }

  for (const add of groupAdd) {
    const gid = parseId(add) ?? groups.find((g) => g.name === add)?.gid;
    if (gid === undefined) {
      throw new SystemError(`Unable to find group ${add}: no matching entries in group file`);
    }
    if (!user.additionalGids.includes(gid)) user.additionalGids.push(gid);
  }
  return user;
}
