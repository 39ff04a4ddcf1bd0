/**
 * The benchmark's data set: reproducible from a seed, cached under the temp dir keyed by seed and size.
 * Roughly by bytes: 28% in 64 MiB incompressible files, 28% in 64 MiB text files, 22% in 256 KiB text files and
 * 22% in many small text files (256 B to 16 KiB, 200 per folder).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bump when the generator changes, so old caches are not reused. */
const GENERATOR_VERSION = 1;
const MiB = 1024 * 1024;

export interface Dataset {
  /** The folder to back up. */
  dir: string;
  files: number;
  bytes: number;
  seed: string;
  mib: number;
  /** False when it came from the cache. */
  generated: boolean;
}

/** mulberry32: a small, fast PRNG; plenty for shaping text. */
function prng(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ser', 'ton', 'ri', 'va', 'nex', 'por', 'de', 'qu', 'ul', 'sta', 'bel', 'gro', 'fin', 'ze', 'ath', 'mo', 'cy'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

/** The same 3000 words for every file, like a real corpus. */
const WORDS = ((): string[] => {
  const rand = prng('vocabulary');
  return Array.from({ length: 3000 }, () => {
    let w = '';
    for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)]!;
    return w;
  });
})();

/** Text with a natural skew: Zipf-like words, log lines with ids, numbers and timestamps. */
class TextSource {
  private readonly rand: () => number;
  private clock = Date.UTC(2024, 0, 1);

  constructor(seed: string) {
    this.rand = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private word(): string {
    return WORDS[Math.floor(WORDS.length * this.rand() ** 3)]!;
  }

  private line(): string {
    if (this.rand() < 0.6) {
      this.clock += this.int(2000);
      const id = this.int(0xffffffff).toString(16).padStart(8, '0');
      return `${new Date(this.clock).toISOString()} ${LEVELS[this.int(LEVELS.length)]} [${this.word()}] ${this.word()} ${this.word()} id=${id} took=${this.int(5000)}ms user=${this.word()}\n`;
    }
    let s = '';
    for (let n = 6 + this.int(12); n > 0; n--) s += `${this.word()}${n > 1 ? ' ' : '.\n'}`;
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /** About `size` bytes of text, cut to exactly `size`. */
  chunk(size: number): Buffer {
    const parts: string[] = [];
    let len = 0;
    while (len < size) {
      const l = this.line();
      parts.push(l);
      len += l.length; // ASCII only
    }
    return Buffer.from(parts.join('').slice(0, size));
  }
}

async function writeText(path: string, size: number, seed: string): Promise<void> {
  const text = new TextSource(seed);
  const fh = await open(path, 'w');
  try {
    for (let left = size; left > 0; left -= MiB) await fh.write(text.chunk(Math.min(MiB, left)));
  } finally {
    await fh.close();
  }
}

/** AES-256-CTR keystream: incompressible, reproducible and fast. */
async function writeRandom(path: string, size: number, seed: string): Promise<void> {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const fh = await open(path, 'w');
  try {
    for (let left = size; left > 0; left -= MiB) await fh.write(cipher.update(zeros.subarray(0, Math.min(MiB, left))));
  } finally {
    await fh.close();
  }
}

async function generate(dir: string, seed: string, mib: number): Promise<{ files: number; bytes: number }> {
  const total = mib * MiB;
  const s = (name: string): string => `${seed}:${name}`;
  let files = 0;
  let bytes = 0;
  const add = (size: number): void => {
    files++;
    bytes += size;
  };

  // Big files: 64 MiB each, fewer and smaller for small data sets.
  const bigCount = Math.max(1, Math.round((total * 0.28) / (64 * MiB)));
  const bigSize = Math.min(64 * MiB, Math.floor((total * 0.28) / bigCount));
  await mkdir(join(dir, 'big'), { recursive: true });
  for (let i = 0; i < bigCount; i++) {
    await writeRandom(join(dir, 'big', `random-${i}.bin`), bigSize, s(`random-${i}`));
    await writeText(join(dir, 'big', `text-${i}.log`), bigSize, s(`text-${i}`));
    add(bigSize);
    add(bigSize);
  }

  const mediumCount = Math.max(1, Math.round((total * 0.22) / (256 * 1024)));
  await mkdir(join(dir, 'medium'));
  for (let i = 0; i < mediumCount; i++) {
    await writeText(join(dir, 'medium', `doc-${String(i).padStart(4, '0')}.txt`), 256 * 1024, s(`medium-${i}`));
    add(256 * 1024);
  }

  // Small files fill the rest: 256 B to 16 KiB, log-uniform.
  const rand = prng(s('small-sizes'));
  for (let i = 0; bytes < total; i++) {
    const folder = join(dir, 'small', `d${String(Math.floor(i / 200)).padStart(3, '0')}`);
    if (i % 200 === 0) await mkdir(folder, { recursive: true });
    const size = Math.min(total - bytes, Math.round(256 * 64 ** rand()));
    await writeFile(join(folder, `f${String(i).padStart(5, '0')}.txt`), new TextSource(s(`small-${i}`)).chunk(size));
    add(size);
  }
  return { files, bytes };
}

/** The data set for `seed` and `mib`, generated unless the cache holds it. */
export async function ensureDataset(seed: string, mib: number, cacheRoot = join(tmpdir(), 'permafrost-bench-data')): Promise<Dataset> {
  const base = join(cacheRoot, `v${GENERATOR_VERSION}-${createHash('sha256').update(seed).digest('hex').slice(0, 12)}-${mib}MiB`);
  const dir = join(base, 'tree');
  const marker = join(base, 'done.json');
  try {
    const done = JSON.parse(await readFile(marker, 'utf8')) as { files: number; bytes: number };
    return { dir, files: done.files, bytes: done.bytes, seed, mib, generated: false };
  } catch {
    /* not cached (or half-written): generate */
  }
  await rm(base, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const { files, bytes } = await generate(dir, seed, mib);
  await writeFile(marker, JSON.stringify({ seed, mib, files, bytes }));
  return { dir, files, bytes, seed, mib, generated: true };
}
