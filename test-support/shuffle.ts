import { randomInt } from "node:crypto";

/** Shuffles `items` in place (Fisher–Yates) and returns it: votes out of cast order. */
export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
