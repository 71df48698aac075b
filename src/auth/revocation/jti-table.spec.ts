import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { JtiTable } from './jti-table.js';

describe('JtiTable', () => {
  it('holds what was added, in either letter case, and nothing else', () => {
    const table = new JtiTable();
    const ids = Array.from({ length: 5_000 }, () => randomUUID());
    for (const id of ids) table.add(id, 100);
    expect(table.size).toBe(5_000);
    for (const id of ids) {
      expect(table.has(id)).toBe(true);
      expect(table.has(id.toUpperCase())).toBe(true);
    }
    for (let i = 0; i < 5_000; i += 1) expect(table.has(randomUUID())).toBe(false);
    for (const text of ['', 'not-a-uuid', ids[0].replaceAll('-', '_'), `${ids[0]}x`, ids[0].slice(1)]) {
      expect(table.has(text)).toBe(false);
    }
    expect(table.add('nope', 5)).toBe(false);
  });

  it('reads hex pages, keeps the later expiry of a duplicate, and prunes by minute', () => {
    const table = new JtiTable();
    const a = '0d6f6c1e-0d7c-4a55-9d3e-2b9d7c1e5f00';
    const b = 'ffffffff-0000-4000-8000-00000000abcd';
    table.addHex(`xx${a.replaceAll('-', '')}`, 2, 10);
    table.add(b, 20);
    table.add(a, 30);
    table.add(a, 5);
    expect(table.size).toBe(2);
    table.pruneBefore(20);
    expect([table.has(a), table.has(b)]).toEqual([true, true]);
    table.pruneBefore(21);
    expect([table.has(a), table.has(b)]).toEqual([true, false]);
    table.pruneBefore(31);
    expect(table.size).toBe(0);
    expect(table.has(a)).toBe(false);
  });

  it('keeps every entry through growth and a prune of half of them', () => {
    const table = new JtiTable();
    const ids = Array.from({ length: 50_000 }, () => randomUUID());
    ids.forEach((id, index) => table.add(id, index % 2 === 0 ? 1_000 : 2_000));
    table.pruneBefore(1_500);
    expect(table.size).toBe(25_000);
    ids.forEach((id, index) => expect(table.has(id)).toBe(index % 2 === 1));
  });

  it('agrees with a plain Map through random additions and prunes (a small table, long clusters)', () => {
    const table = new JtiTable();
    const model = new Map<string, number>();
    const ids: string[] = [];
    let floor = 0;
    for (let round = 0; round < 40; round += 1) {
      for (let i = 0; i < 300; i += 1) {
        const reuse = ids.length > 0 && Math.random() < 0.2;
        const id = reuse ? ids[Math.floor(Math.random() * ids.length)] : randomUUID();
        if (!reuse) ids.push(id);
        const minute = floor + 1 + Math.floor(Math.random() * 30);
        table.add(id, minute);
        model.set(id, Math.max(model.get(id) ?? 0, minute));
      }
      floor += Math.floor(Math.random() * 6);
      table.pruneBefore(floor);
      for (const [id, minute] of model) if (minute < floor) model.delete(id);
      expect(table.size).toBe(model.size);
      for (const id of ids) expect(table.has(id)).toBe(model.has(id));
    }
  });
});
