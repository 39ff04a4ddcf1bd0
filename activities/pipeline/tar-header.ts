/**
 * Tar header blocks, byte for byte what tar-stream 3's pack() writes (ustar, with a pax extended header for long or non-ASCII names and for explicit `pax` fields), so
 * archives stay identical to the ones earlier versions produced; tar-stream's extract() reads them back.
 * Ported from tar-stream/headers.js and pack.js (MIT, Mathias Buus).
 */

export const BLOCK = 512;

export type TarEntryType = 'file' | 'link' | 'symlink' | 'directory';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size: number;
  linkname?: string;
  pax?: Record<string, string>;
}

/** tar-stream's defaults for an entry without a mode (a mode of 0 is stored as these). */
const DEFAULT_DIR_MODE = 0o755;
const DEFAULT_FILE_MODE = 0o644;

const TYPEFLAG: Record<TarEntryType | 'pax-header', number> = { file: 0, link: 1, symlink: 2, directory: 5, 'pax-header': 72 };
const ZEROS = '0000000000000000000';
const SEVENS = '7777777777777777777';
/** Magic "ustar\0" and version "00". */
const USTAR = Buffer.from('ustar\x0000', 'latin1');

function encodeOct(val: number, n: number): string {
  const s = val.toString(8);
  if (s.length > n) return `${SEVENS.slice(0, n)} `;
  return `${ZEROS.slice(0, n - s.length)}${s} `;
}

/** `encodeOct(val, n)` written at `off`: n octal digits and a space (digit by digit for the usual values). */
function writeOct(buf: Buffer, off: number, val: number, n: number): void {
  if (!Number.isSafeInteger(val) || val < 0 || val >= 8 ** n) {
    buf.write(encodeOct(val, n), off, 'latin1');
    return;
  }
  for (let i = n - 1; i >= 0; i--) {
    buf[off + i] = 0x30 + (val % 8);
    val = Math.floor(val / 8);
  }
  buf[off + n] = 0x20;
}

function encodeSize(num: number, buf: Buffer, off: number): void {
  if (num.toString(8).length > 11) {
    buf[off] = 0x80; // base-256
    for (let i = 11; i > 0; i--) {
      buf[off + i] = num & 0xff;
      num = Math.floor(num / 0x100);
    }
  } else {
    writeOct(buf, off, num, 11);
  }
}

function cksum(buf: Buffer, off: number): number {
  let sum = 8 * 32;
  for (let i = off; i < off + 148; i++) sum += buf[i]!;
  for (let i = off + 156; i < off + BLOCK; i++) sum += buf[i]!;
  return sum;
}

interface RawHeader {
  name: string;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname?: string;
}

/** Writes one ustar block at `buf[off..off+512)`; false (nothing meaningful written) when the name needs pax. */
function encodeBlock(h: RawHeader, buf: Buffer, off: number): boolean {
  let name = h.name;
  let prefix = '';
  if (Buffer.byteLength(name) !== name.length) return false; // not ASCII
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (name.length > 100 || prefix.length > 155) return false;
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) return false;

  // Names are ASCII here, so latin1 writes the same bytes as utf8, faster.
  buf.fill(0, off, off + BLOCK);
  buf.write(name, off, 'latin1');
  writeOct(buf, off + 100, h.mode & 0o7777, 6);
  writeOct(buf, off + 108, h.uid, 6);
  writeOct(buf, off + 116, h.gid, 6);
  encodeSize(h.size, buf, off + 124);
  writeOct(buf, off + 136, (h.mtime.getTime() / 1000) | 0, 11);
  buf[off + 156] = 0x30 + h.typeflag;
  if (h.linkname) buf.write(h.linkname, off + 157, 'utf8');
  USTAR.copy(buf, off + 257);
  writeOct(buf, off + 329, 0, 6); // devmajor
  writeOct(buf, off + 337, 0, 6); // devminor
  if (prefix) buf.write(prefix, off + 345, 'latin1');
  writeOct(buf, off + 148, cksum(buf, off), 6);
  return true;
}

function paxRecord(record: string): string {
  const len = Buffer.byteLength(record);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= Math.pow(10, digits)) digits++;
  return `${len + digits}${record}`;
}

function encodePax(h: TarHeader): Buffer {
  let result = '';
  if (h.name) result += paxRecord(` path=${h.name}\n`);
  if (h.linkname) result += paxRecord(` linkpath=${h.linkname}\n`);
  for (const key in h.pax) result += paxRecord(` ${key}=${h.pax[key]}\n`);
  return Buffer.from(result);
}

/** The entry's own block, with tar-stream's normalisation (no size for symlinks, default modes, ids of 0). */
function entryBlock(h: TarHeader): RawHeader {
  return {
    name: h.name,
    typeflag: TYPEFLAG[h.type],
    mode: h.mode || (h.type === 'directory' ? DEFAULT_DIR_MODE : DEFAULT_FILE_MODE),
    uid: h.uid || 0,
    gid: h.gid || 0,
    size: h.type === 'symlink' || !h.size ? 0 : h.size,
    mtime: h.mtime,
    linkname: h.linkname,
  };
}

/**
 * The header block(s) of an entry: one ustar block, or a pax header (block, records, padding) followed by the
 * entry's block, which then carries `PaxHeader` as its name as tar-stream writes it.
 */
export function encodeHeader(header: TarHeader): Buffer {
  const h = entryBlock(header);
  const block = Buffer.allocUnsafe(BLOCK);
  if (!header.pax && encodeBlock(h, block, 0)) return block;
  const records = encodePax(header);
  const padded = paddedSize(records.length);
  const out = Buffer.alloc(2 * BLOCK + padded);
  const paxHeader: RawHeader = {
    name: 'PaxHeader',
    typeflag: TYPEFLAG['pax-header'],
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: records.length,
    mtime: h.mtime,
    linkname: h.linkname && 'PaxHeader',
  };
  encodeBlock(paxHeader, out, 0);
  records.copy(out, BLOCK);
  encodeBlock({ ...paxHeader, typeflag: h.typeflag, size: h.size }, out, BLOCK + padded);
  return out;
}

/** `n` rounded up to whole blocks. */
export function paddedSize(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}
