import { Errno } from "./errno.js";
import type { FileOperations, Inode } from "./file.js";

/** A name in the VFS: a device node, a debugfs/procfs/sysfs file, or a directory (implied). */
export interface VfsNode {
  readonly path: string;
  readonly fops: FileOperations;
  readonly inode: Inode;
  /** Handed to new files as `file.privateData` (a device node's driver state, say). */
  readonly privateData?: unknown;
}

/** Resolves names under a dynamic mount (procfs: /proc/<pid>/...). */
export interface VfsResolver {
  lookup(path: string): VfsNode | undefined;
  readdir(path: string): string[] | undefined;
}

/**
 * The VFS-lite: a flat name space of nodes plus dynamic resolvers for procfs-like trees.
 * Directories exist because something lives below them.
 */
export class Vfs {
  private nodes = new Map<string, VfsNode>();
  private resolvers: [string, VfsResolver][] = [];
  private ino = 1000;

  /** get_next_ino() */
  nextIno(): number {
    return ++this.ino;
  }

  /** Creates `path` (mknod for a char device, debugfs_create_file for a debug file). EEXIST if taken. */
  create(path: string, fops: FileOperations, privateData?: unknown, rdev?: string): VfsNode {
    const p = normalize(path);
    if (this.nodes.has(p)) throw new Errno("EEXIST", "vfs create", `${p} already exists`);
    const inode: Inode = rdev === undefined ? { ino: this.nextIno(), name: p } : { ino: this.nextIno(), name: p, rdev };
    const node: VfsNode = privateData === undefined ? { path: p, fops, inode } : { path: p, fops, inode, privateData };
    this.nodes.set(p, node);
    return node;
  }

  /** A read-only text file whose content is generated when it is opened (a seq_file); show may render bytes. */
  createText(path: string, show: () => string | Uint8Array, write?: (text: string) => void): VfsNode {
    return this.create(path, seqFileOps(path, show, write));
  }

  remove(path: string): void {
    this.nodes.delete(normalize(path));
  }

  /** Mounts a resolver at `prefix` (e.g. "/proc"). */
  mount(prefix: string, resolver: VfsResolver): void {
    this.resolvers.push([normalize(prefix), resolver]);
  }

  lookup(path: string, call = "open"): VfsNode {
    const p = normalize(path);
    const node = this.nodes.get(p) ?? this.resolverFor(p)?.lookup(p);
    if (node) return node;
    if (this.readdirOrUndefined(p)) throw new Errno("EISDIR", call, `${p} is a directory`);
    throw new Errno("ENOENT", call, `no such file or directory: ${p}`);
  }

  exists(path: string): boolean {
    const p = normalize(path);
    return this.nodes.has(p) || this.resolverFor(p)?.lookup(p) !== undefined;
  }

  /** Names directly under directory `path`, sorted. ENOENT / ENOTDIR as opendir gives them. */
  readdir(path: string): string[] {
    const p = normalize(path);
    const names = this.readdirOrUndefined(p);
    if (names) return names;
    if (this.nodes.has(p)) throw new Errno("ENOTDIR", "opendir", `${p} is not a directory`);
    throw new Errno("ENOENT", "opendir", `no such file or directory: ${p}`);
  }

  private readdirOrUndefined(p: string): string[] | undefined {
    const fromResolver = this.resolverFor(p)?.readdir(p);
    if (fromResolver) return fromResolver;
    const prefix = p === "/" ? "/" : p + "/";
    const names = new Set<string>();
    for (const k of this.nodes.keys()) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split("/")[0]!);
    for (const [mnt] of this.resolvers) if (mnt.startsWith(prefix)) names.add(mnt.slice(prefix.length).split("/")[0]!);
    return names.size > 0 ? [...names].sort(byName) : undefined;
  }

  private resolverFor(p: string): VfsResolver | undefined {
    for (const [prefix, r] of this.resolvers) if (p === prefix || p.startsWith(prefix + "/")) return r;
    return undefined;
  }
}

const byName = (a: string, b: string) => {
  const na = Number(a);
  const nb = Number(b);
  return Number.isInteger(na) && Number.isInteger(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
};

function normalize(path: string): string {
  const parts: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") parts.pop();
    else parts.push(s);
  }
  return "/" + parts.join("/");
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * File operations of a seq_file: the text is generated at open and read like a regular file.
 * `write`, when given, receives what userspace writes (e.g. "0" to tracing_on).
 */
export function seqFileOps(name: string, show: () => string | Uint8Array, write?: (text: string) => void): FileOperations {
  return {
    name,
    open(file) {
      const text = show();
      file.privateData = typeof text === "string" ? enc.encode(text) : text;
    },
    read(file, count, pos) {
      const bytes = file.privateData as Uint8Array;
      return bytes.subarray(Math.min(pos, bytes.length), Math.min(pos + count, bytes.length));
    },
    llseek(file, offset, whence) {
      const bytes = file.privateData as Uint8Array;
      const base = whence === 0 ? 0 : whence === 1 ? file.pos : whence === 2 ? bytes.length : NaN;
      const pos = base + offset;
      if (!(pos >= 0)) throw new Errno("EINVAL", "lseek", `bad offset or whence ${whence}`);
      return pos;
    },
    ...(write && {
      write(_file, data) {
        write(dec.decode(data));
        return data.length;
      },
    }),
  };
}
