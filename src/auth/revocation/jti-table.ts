/**
 * The denied jtis of the in-memory revocation state: a set of UUIDs, each with its token's expiry
 * in whole minutes, in typed arrays (open addressing, linear probing). The denylist may hold
 * millions of rows: as Map entries with string keys they cost about 60 bytes each on the V8 heap
 * and, worse, one object each for every full garbage collection to trace. Here an entry is 20
 * bytes (four 32-bit words of the UUID and a 32-bit minute) outside the traced heap, and a lookup
 * parses the token's jti into four numbers without allocating anything.
 */
export class JtiTable {
  private capacity = 1 << 10;
  private words = new Uint32Array(this.capacity * 4);
  /** Expiry minute per slot; 0 marks an empty slot (minute 0 is 1970, never a live token). */
  private minutes = new Uint32Array(this.capacity);
  private count = 0;
  /** Scratch for a parsed UUID, so that lookups allocate nothing. */
  private readonly key = new Uint32Array(4);

  get size(): number {
    return this.count;
  }

  /** True when `uuid` (text, any letter case) is in the table. False for anything that is not a UUID. */
  has(uuid: string): boolean {
    return parseUuid(uuid, this.key) && this.find(this.key) >= 0;
  }

  /** Adds `uuid` with its expiry minute (keeping the later of two). False when `uuid` is not a UUID. */
  add(uuid: string, minute: number): boolean {
    if (!parseUuid(uuid, this.key)) return false;
    this.insert(this.key, minute);
    return true;
  }

  /** Adds a UUID given as 32 hex digits at `offset` of `text` (a page read at start). */
  addHex(text: string, offset: number, minute: number): void {
    for (let word = 0; word < 4; word += 1) this.key[word] = hexWord(text, offset + word * 8);
    this.insert(this.key, minute);
  }

  /**
   * Drops every entry whose minute is before `minute`, in place: one pass over the slots, each
   * removal closing its gap by shifting the rest of its cluster back (no tombstones, nothing
   * allocated). About 10 ms for a million entries, once a minute.
   */
  pruneBefore(minute: number): void {
    if (this.count === 0) return;
    const mask = this.capacity - 1;
    // Start right after an empty slot: no cluster then wraps past the start of the pass, so an
    // entry shifted back always lands on a slot the pass has not reached yet.
    let start = 0;
    while (this.minutes[start] !== 0) start += 1;
    for (let step = 1; step <= this.capacity; step += 1) {
      const slot = (start + step) & mask;
      while (this.minutes[slot] !== 0 && this.minutes[slot] < minute) this.removeAt(slot);
    }
  }

  /** Empties `slot` and shifts back the entries of its cluster that may no longer be found past the gap. */
  private removeAt(slot: number): void {
    const mask = this.capacity - 1;
    let gap = slot;
    for (let next = (gap + 1) & mask; this.minutes[next] !== 0; next = (next + 1) & mask) {
      const home = hash(this.words, next * 4) & mask;
      // The entry at `next` stays when its home lies cyclically in (gap, next].
      const stays = gap <= next ? gap < home && home <= next : gap < home || home <= next;
      if (stays) continue;
      this.words.copyWithin(gap * 4, next * 4, next * 4 + 4);
      this.minutes[gap] = this.minutes[next];
      gap = next;
    }
    this.minutes[gap] = 0;
    this.count -= 1;
  }

  private find(key: Uint32Array): number {
    const mask = this.capacity - 1;
    for (let slot = hash(key, 0) & mask; ; slot = (slot + 1) & mask) {
      if (this.minutes[slot] === 0) return -1;
      const base = slot * 4;
      if (
        this.words[base] === key[0] &&
        this.words[base + 1] === key[1] &&
        this.words[base + 2] === key[2] &&
        this.words[base + 3] === key[3]
      ) {
        return slot;
      }
    }
  }

  private insert(key: Uint32Array, minute: number): void {
    // Never 0 (the empty mark), never NaN (a Uint32Array would store it as 0).
    const stored = Number.isFinite(minute) ? Math.max(1, Math.min(Math.floor(minute), 0xffffffff)) : 0xffffffff;
    const existing = this.find(key);
    if (existing >= 0) {
      if (stored > this.minutes[existing]) this.minutes[existing] = stored;
      return;
    }
    // Grow at 70% full: linear probing stays short up to there.
    if ((this.count + 1) * 10 > this.capacity * 7) this.grow();
    const mask = this.capacity - 1;
    let slot = hash(key, 0) & mask;
    while (this.minutes[slot] !== 0) slot = (slot + 1) & mask;
    this.words.set(key, slot * 4);
    this.minutes[slot] = stored;
    this.count += 1;
  }

  private grow(): void {
    const { words, minutes, capacity } = this;
    this.reset(capacity * 2);
    for (let slot = 0; slot < capacity; slot += 1) {
      if (minutes[slot] !== 0) this.insert(words.subarray(slot * 4, slot * 4 + 4), minutes[slot]);
    }
  }

  private reset(capacity: number): void {
    this.capacity = capacity;
    this.words = new Uint32Array(capacity * 4);
    this.minutes = new Uint32Array(capacity);
    this.count = 0;
  }
}

/** Random UUIDs are uniform already; mixing still spreads any structured ones (time-based v1/v7). */
function hash(words: Uint32Array, offset: number): number {
  let h = Math.imul(words[offset] ^ 0x9e3779b9, 0x85ebca6b) ^ words[offset + 1];
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ words[offset + 2];
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ words[offset + 3];
  return (h ^ (h >>> 16)) >>> 0;
}

/** Parses the 36-character text form of a UUID into four 32-bit words; false when it is not one. */
function parseUuid(text: string, into: Uint32Array): boolean {
  if (text.length !== 36) return false;
  let position = 0;
  for (let word = 0; word < 4; word += 1) {
    let value = 0;
    for (let digit = 0; digit < 8; digit += 1) {
      if (position === 8 || position === 13 || position === 18 || position === 23) {
        if (text.charCodeAt(position) !== 45 /* - */) return false;
        position += 1;
      }
      const nibble = hexValue(text.charCodeAt(position));
      if (nibble < 0) return false;
      value = value * 16 + nibble;
      position += 1;
    }
    into[word] = value;
  }
  return true;
}

/** The 32-bit number written as 8 hex digits at `offset` of `text` (digits known to be valid). */
export function hexWord(text: string, offset: number): number {
  let value = 0;
  for (let digit = 0; digit < 8; digit += 1) value = value * 16 + hexValue(text.charCodeAt(offset + digit));
  return value;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}
